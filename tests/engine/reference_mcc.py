"""FROZEN REFERENCE (tests/engine/test_stages.py): mcc.py as of commit b6fde26, before score_pair was split
into stages. Do not edit; it is what the staged kernel is compared against.

Minutia Cylinder-Code (bit form) with a relaxation-based global consolidation.

Cappelli, Ferrara, Maltoni, "Minutia Cylinder-Code: a new representation and
matching technique for fingerprint recognition", IEEE TPAMI 32(12), 2010.

Representation (per minutia, "cylinder"): an Ns x Ns x Nd grid of cells in the
minutia's own frame (so rotation and translation invariant); a cell bit is set
when neighbouring minutiae, near the cell in space and with a matching relative
direction, contribute enough.  Ns = 8 so that one direction slice is exactly one
64-bit word and cell validity is one word per cylinder: a cylinder is Nd words
plus a validity word, and a local similarity is ~2 * Nd popcounts.

Global score: local similarities of all pairs -> greedy one-to-one preselection
-> relaxation (pairs supported by geometrically compatible pairs keep their
weight, others fade; this is what tolerates skin distortion: only *local*
pairwise distances and angles are compared) -> mean of the best nP relaxed
similarities (LSS-R).

This module holds the parameters and the scoring; the cylinders are built in
`cylinders.py`, and a 1:N shard keeps them in the compact form of `compact.py`.

All coordinates inside this module are in a math frame: x right, y *up*,
angles counter-clockwise from +x, which is exactly the template convention
(`angle = atan2(-dy, dx)` in image coordinates) once y is negated.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

# --- parameters (part of ENGINE_VERSION: change one, bump the version) -------
R = 70.0            # cylinder radius, px at 500 dpi
NS = 8              # cells per side (fixed: 64 cells = one uint64 per slice)
ND = 6              # direction slices
SIGMA_S = 28.0 / 3.0
SIGMA_D = 2.0 * math.pi / 9.0
MU_PSI = 0.01       # bit threshold on the cell contribution
OMEGA = 50.0        # convex hull enlargement for cell validity, px
MIN_VC = 0.75       # min fraction of valid cells (of those within R) for a valid cylinder
MIN_M = 2           # min neighbouring minutiae for a valid cylinder
MIN_ME = 0.60       # min fraction of common valid cells for two cylinders to be matchable
DELTA_THETA = math.pi / 2.0
COS_DELTA_THETA = math.cos(DELTA_THETA) - 1e-6
MIN_LOCAL = 0.0     # local similarities below this never enter the consolidation
MAX_MINUTIAE = 72   # keep the best-quality minutiae beyond this count
# global consolidation
MIN_NP, MAX_NP, MU_P, TAU_P = 4, 12, 20.0, 0.4
# a pair whose smaller template has fewer valid cylinders than N_FULL scores in proportion: n_P falls to 4
# below ~14 minutiae, so a few lucky local matches would otherwise score like a genuine match (templates cut
# to their 8 central minutiae on FVC2002: 27x the nominal FMR at 1e-4; with this factor 0.4x; docs/usable-fingers.md)
N_FULL = 20
N_REL, W_R = 5, 0.5
MU1, TAU1 = 5.0, -8.0 / 5.0
MU2, TAU2 = math.pi / 12.0, -30.0
MU3, TAU3 = math.pi / 12.0, -30.0
DIST_REL = 0.005     # distance tolerance grows with the distance (skin distortion accumulates)
MAX_NR = 16         # cap on relaxed pairs (cost is quadratic)

TWO_PI = 2.0 * math.pi


@intrinsic
def popcount64(typingctx, x):
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


# --- matching -----------------------------------------------------------------
# A prepared template is packed as: geo float32 (n, 5) = x, y (math frame), theta, cos, sin
# and cyl uint64 (n, ND + 1) = ND slices then the validity word.

_NBUCKET = 128
_RECIP2 = (2.0 / (np.arange(2 * 64 * ND + 1) + 1e-9)).astype(np.float32)  # 2 / (nand + nor)
_NLUT = 64  # direction bins of the run lookup
_GREEDY_DEPTH = 8  # candidates ordered first, per pair wanted
_PROFILE_STAGE = 9  # debug: 1 or 2 returns after that stage


@njit(cache=True, inline="always")
def _z(v, mu, tau):
    return 1.0 / (1.0 + math.exp(-tau * (v - mu)))


@njit(cache=True, inline="always")
def _zl(v, mu, tau):
    """Piecewise-linear stand-in for the (decreasing) sigmoid _z: same value and slope at mu."""
    return min(1.0, max(0.0, 0.5 + 0.25 * tau * (v - mu)))


D1_ZERO = MU1 + 2.0 / abs(TAU1)   # where _zl reaches 0
D2_ZERO = MU2 + 2.0 / abs(TAU2)


@njit(cache=True, inline="always")
def _lut_bound(g, lut, v, n):
    """First row index with g[row, 2] >= v, from the bin table lut (rows sorted by column 2)."""
    k = min(int(v * (_NLUT / TWO_PI)), _NLUT - 1)
    lo = lut[k]
    hi = lut[k + 1]
    while lo < hi and g[lo, 2] < v:
        lo += 1
    return lo


@njit(cache=True, inline="always")
def _lower_bound(g, v, n):
    """First row index with g[row, 2] >= v (rows sorted by column 2)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if g[mid, 2] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, error_model="numpy", inline="always")
def _sim_run(ca, cb, i, j0, j1, min_common, work_k, work_v, cnt):
    """Local similarities of cylinder i of A with rows j0:j1 of B (all within DELTA_THETA in
    direction), appended where valid: key i << 8 | j in work_k, similarity in work_v."""
    a0 = ca[i, 0]
    a1 = ca[i, 1]
    a2 = ca[i, 2]
    a3 = ca[i, 3]
    a4 = ca[i, 4]
    a5 = ca[i, 5]
    ma = ca[i, ND]
    key0 = np.int32(i << 8)
    for jj in range(j1 - j0):
        j = np.uint64(j0 + jj)  # unsigned index: no negative-index wraparound code
        m = ma & cb[j, ND]
        # bits are only ever set in valid cells (build_cylinders), so a & b needs no mask
        nand = (popcount64(a0 & cb[j, 0]) + popcount64(a1 & cb[j, 1]) + popcount64(a2 & cb[j, 2])
                + popcount64(a3 & cb[j, 3]) + popcount64(a4 & cb[j, 4]) + popcount64(a5 & cb[j, 5]))
        nor = (popcount64((a0 | cb[j, 0]) & m) + popcount64((a1 | cb[j, 1]) & m) + popcount64((a2 | cb[j, 2]) & m)
               + popcount64((a3 | cb[j, 3]) & m) + popcount64((a4 | cb[j, 4]) & m) + popcount64((a5 | cb[j, 5]) & m))
        # 2 nand / (nand + nor) by a reciprocal table (no division)
        sim = np.float32(nand) * _RECIP2[nand + nor]
        ok = (popcount64(m) >= min_common) & (nand > 0)
        c = np.uint64(cnt)  # unsigned index: no negative-index wraparound code
        work_k[c] = key0 | np.int32(j)
        work_v[c] = sim
        cnt += np.int64(ok)
    return cnt


@njit(cache=True, error_model="numpy")
def score_pair(ga, ca, gb, cb, work_i, work_j, work_v, work_b, lam, lam0, rho, sel_a, sel_b, bucket_count,
               bucket_start, order, used_a, used_b, eff, pg, top, lut):
    na = ga.shape[0]
    nb = gb.shape[0]
    if na < 2 or nb < 2:
        return 0.0
    min_common = np.int64(math.ceil(MIN_ME * 52.0))  # 52 cells of the 8x8 grid lie within R
    # 1. local similarities, bucketed by value
    cnt = 0
    for b in range(4 * _NBUCKET):
        bucket_count[b] = 0
    # (branch-free inner loop: unpredictable branches cost more than the popcounts)
    # B's cylinders are sorted by direction, so the candidates |dtheta| <= DELTA_THETA of each
    # minutia of A form one circular run of B: only that run is scanned
    # direction -> first row of B at or above it, by a table of _NLUT angle bins (no binary search)
    kk = 0
    for k in range(_NLUT + 1):
        v = k * (TWO_PI / _NLUT)
        while kk < nb and gb[kk, 2] < v:
            kk += 1
        lut[k] = kk
    for i in range(na):
        lo = ga[i, 2] - DELTA_THETA
        if lo < 0.0:
            lo += TWO_PI
        hi = ga[i, 2] + DELTA_THETA
        if hi >= TWO_PI:
            hi -= TWO_PI
        s0 = _lut_bound(gb, lut, lo, nb)
        s1 = _lut_bound(gb, lut, hi, nb)
        if lo <= hi:
            cnt = _sim_run(ca, cb, i, s0, s1, min_common, work_i, work_v, cnt)
        else:
            cnt = _sim_run(ca, cb, i, s0, nb, min_common, work_i, work_v, cnt)
            cnt = _sim_run(ca, cb, i, 0, s1, min_common, work_i, work_v, cnt)
    if _PROFILE_STAGE == 1:
        return float(cnt)
    if cnt == 0:
        return 0.0
    for t in range(cnt):
        # four interleaved histograms: similar values come in runs, and one counter would be
        # a chain of dependent read-modify-writes
        b = min(_NBUCKET - 1, int(work_v[t] * _NBUCKET))
        work_b[t] = b
        bucket_count[b + (t & 3) * _NBUCKET] += 1
    for b in range(_NBUCKET):
        bucket_count[b] += bucket_count[b + _NBUCKET] + bucket_count[b + 2 * _NBUCKET] + bucket_count[b + 3 * _NBUCKET]
    if _PROFILE_STAGE == 4:
        return float(bucket_count[3])
    # 2. greedy one-to-one preselection in (approximately) descending order.  Only the
    #    best buckets are ordered first (the greedy rarely needs more); the rest only if
    #    the greedy runs out of candidates before nr_max pairs
    nr_max = min(na, nb, MAX_NR)
    want = _GREEDY_DEPTH * nr_max
    pos = 0
    bcut = 0
    for b in range(_NBUCKET - 1, -1, -1):
        bucket_start[b] = pos
        pos += bucket_count[b]
        if pos >= want:
            bcut = b
            break
    k = 0
    for t in range(cnt):  # branch-free compaction of the candidates in the best buckets
        top[k] = t
        k += np.int64(work_b[t] >= bcut)
    for u in range(k):
        t = top[u]
        b = work_b[t]
        order[bucket_start[b]] = t
        bucket_start[b] += 1
    if _PROFILE_STAGE == 5:
        return float(order[3])
    for i in range(na):
        used_a[i] = False
    for j in range(nb):
        used_b[j] = False
    nr = 0
    o = 0
    placed = pos
    while True:
        while o < placed and nr < nr_max:  # branch-free body: a taken pair is written, not counted
            t = order[o]
            o += 1
            i = work_i[t] >> 8
            j = work_i[t] & 255
            free = not (used_a[i] or used_b[j])
            used_a[i] = used_a[i] or free
            used_b[j] = used_b[j] or free
            sel_a[nr] = i
            sel_b[nr] = j
            lam0[nr] = work_v[t]
            nr += np.int64(free)
        if nr >= nr_max or placed >= cnt:
            break
        # place the remaining (lower) buckets after the ones already ordered
        for b in range(bcut - 1, -1, -1):
            bucket_start[b] = pos
            pos += bucket_count[b]
        k = 0
        for t in range(cnt):
            top[k] = t
            k += np.int64(work_b[t] < bcut)
        for u in range(k):
            t = top[u]
            b = work_b[t]
            order[bucket_start[b]] = t
            bucket_start[b] += 1
        placed = cnt
        bcut = 0
    if nr < 2:
        return 0.0
    if _PROFILE_STAGE == 2:
        return float(nr)
    # 3. relaxation: compatibility of pairs p, q from distances and angles local to each
    #    template (rotation/translation free; small tolerances absorb distortion).
    #    Branch-free over structure-of-arrays copies of the selected minutiae (vectorizes);
    #    the linear _zl reach 0 exactly where the old early-outs were.
    for p in range(nr):
        ia = sel_a[p]
        ib = sel_b[p]
        for c in range(5):
            pg[c, p] = ga[ia, c]
            pg[5 + c, p] = gb[ib, c]
    XA, YA, TA, CA, SA = pg[0], pg[1], pg[2], pg[3], pg[4]
    XB, YB, TB, CB, SB = pg[5], pg[6], pg[7], pg[8], pg[9]
    f0 = np.float32(0.0)
    f1 = np.float32(1.0)
    h = np.float32(0.5)
    k1 = np.float32(0.25 * TAU1)
    k2 = np.float32(0.25 * TAU2)
    k3 = np.float32(0.25 * TAU3)
    m1 = np.float32(MU1)
    m2 = np.float32(MU2)
    m3 = np.float32(MU3)
    tp = np.float32(TWO_PI)
    itp = np.float32(1.0 / TWO_PI)
    pi_ = np.float32(math.pi)
    drel = np.float32(DIST_REL)
    for p in range(nr):
        xa, ya, ta, cta, sta = XA[p], YA[p], TA[p], CA[p], SA[p]
        xb, yb, tb, ctb, stb = XB[p], YB[p], TB[p], CB[p], SB[p]
        for q in range(nr):  # the full row (symmetric; nr <= 16 = two AVX vectors)
            # 2: the two minutiae's relative direction, compared across templates
            d = (ta - TA[q]) - (tb - TB[q])
            d2 = abs(d - tp * np.floor((d + pi_) * itp))
            dxa = XA[q] - xa
            dya = YA[q] - ya
            dxb = XB[q] - xb
            dyb = YB[q] - yb
            da = np.sqrt(dxa * dxa + dya * dya)
            db = np.sqrt(dxb * dxb + dyb * dyb)
            # 1: distance
            d1 = abs(da - db) / (f1 + drel * (da + db))
            # 3: radial angle = segment direction seen from minutia p (and from q), compared
            #    across templates via the sine of the angle between the local vectors
            lax = cta * dxa + sta * dya
            lay = -sta * dxa + cta * dya
            lbx = ctb * dxb + stb * dyb
            lby = -stb * dxb + ctb * dyb
            dd = da * db
            inv = f1 / max(dd, np.float32(1e-12))
            cos3 = (lax * lbx + lay * lby) * inv
            sin3 = abs(lax * lby - lay * lbx) * inv
            cka, ska, ckb, skb = CA[q], SA[q], CB[q], SB[q]
            l2ax = cka * dxa + ska * dya
            l2ay = -ska * dxa + cka * dya
            l2bx = ckb * dxb + skb * dyb
            l2by = -skb * dxb + ckb * dyb
            cos3b = (l2ax * l2bx + l2ay * l2by) * inv
            sin3b = abs(l2ax * l2by - l2ay * l2bx) * inv
            d3 = max(sin3, sin3b)
            r = (min(f1, max(f0, h + k1 * (d1 - m1))) * min(f1, max(f0, h + k2 * (d2 - m2)))
                 * min(f1, max(f0, h + k3 * (d3 - m3))))
            okr = (cos3 > f0) & (cos3b > f0) & (dd > f0)
            rho[p, q] = r if okr else f0
        rho[p, p] = f0
    if _PROFILE_STAGE == 3:
        return float(rho[0, 1])
    for p in range(nr):
        lam[p] = lam0[p]
    inv = np.float32(1.0 / (nr - 1))
    wr = np.float32(W_R)
    c1 = (f1 - wr) * inv
    for _ in range(N_REL):
        # lam <- wr lam + (1 - wr) / (nr - 1) rho lam; rho is symmetric, so as a sum of scaled
        # rows (independent lanes, no serial reduction)
        for p in range(nr):
            eff[p] = wr * lam[p]
        for q in range(nr):
            w = c1 * lam[q]
            for p in range(nr):
                eff[p] += w * rho[q, p]
        for p in range(nr):
            lam[p] = eff[p]
    # 4. the nP pairs with the best efficiency lam / lam0 (ties: lower index first)
    nmin = min(na, nb)
    np_ = MIN_NP + int(round(_z(nmin, MU_P, TAU_P) * (MAX_NP - MIN_NP)))
    np_ = min(np_, nr)
    for p in range(nr):
        eff[p] = lam[p] / lam0[p]
    s = f0
    for p in range(nr):
        e = eff[p]
        rank = 0
        for q in range(nr):
            rank += np.int64((eff[q] > e) | ((eff[q] == e) & (q < p)))
        s += lam[p] if rank < np_ else f0
    return float(s) / np_ * min(1.0, nmin / N_FULL)


@njit(cache=True)
def scratch(na, nb):
    n = max(na * nb, 1)
    return (np.zeros(n, np.int32), np.zeros(n, np.int32), np.zeros(n, np.float32), np.zeros(n, np.int32),
            np.zeros(MAX_NR, np.float32), np.zeros(MAX_NR, np.float32), np.zeros((MAX_NR, MAX_NR), np.float32),
            np.zeros(MAX_NR, np.int32), np.zeros(MAX_NR, np.int32),
            np.zeros(4 * _NBUCKET, np.int64), np.zeros(_NBUCKET, np.int64),
            np.zeros(n, np.int32), np.zeros(na, np.bool_), np.zeros(nb, np.bool_), np.zeros(MAX_NR, np.float32),
            np.zeros((10, MAX_NR), np.float32), np.zeros(n, np.int32), np.zeros(_NLUT + 1, np.int64))


@njit(cache=True)
def compare_one(ga, ca, gb, cb):
    sc = scratch(ga.shape[0], gb.shape[0])
    return score_pair(ga, ca, gb, cb, *sc)


@njit(cache=True)
def compare_to_gallery(ga, ca, g_geo, g_cyl, offsets):
    """Probe against a packed gallery: rows offsets[t]:offsets[t+1] of g_geo/g_cyl."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.float32)
    maxn = 1
    for t in range(n):
        maxn = max(maxn, offsets[t + 1] - offsets[t])
    sc = scratch(ga.shape[0], maxn)
    for t in range(n):
        a, b = offsets[t], offsets[t + 1]
        out[t] = score_pair(ga, ca, g_geo[a:b], g_cyl[a:b], *sc)
    return out


@njit(cache=True)
def compare_pairs(g_geo, g_cyl, offsets, left, right):
    """Scores of template pairs (left[k], right[k]) of one packed set (bench and calibration)."""
    n = left.shape[0]
    out = np.zeros(n, np.float32)
    maxn = 1
    for t in range(offsets.shape[0] - 1):
        maxn = max(maxn, offsets[t + 1] - offsets[t])
    sc = scratch(maxn, maxn)
    for k in range(n):
        a0, a1 = offsets[left[k]], offsets[left[k] + 1]
        b0, b1 = offsets[right[k]], offsets[right[k] + 1]
        out[k] = score_pair(g_geo[a0:a1], g_cyl[a0:a1], g_geo[b0:b1], g_cyl[b0:b1], *sc)
    return out


@njit(cache=True)
def compare_to_selected(ga, ca, g_geo, g_cyl, starts, ends):
    """Probe against selected templates of a packed block: rows starts[k]:ends[k] (1:N after indexing)."""
    n = starts.shape[0]
    out = np.zeros(n, np.float32)
    maxn = 1
    for k in range(n):
        maxn = max(maxn, ends[k] - starts[k])
    sc = scratch(ga.shape[0], maxn)
    for k in range(n):
        a, b = starts[k], ends[k]
        out[k] = score_pair(ga, ca, g_geo[a:b], g_cyl[a:b], *sc)
    return out
