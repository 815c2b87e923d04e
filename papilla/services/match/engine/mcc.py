"""Minutia Cylinder-Code (bit form) with a relaxation-based global consolidation.

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
similarities (LSS-R) -> global pairing (the most minutiae paired one-to-one under
the rigid transform of one of the best relaxed pairs, tolerance growing with the
distance from it) -> the score, LSS-R scaled down when too few minutiae pair
(minimum evidence) or a template has very few cylinders.

This module holds the parameters and the scoring; the cylinders are built in
`cylinders.py`, and a 1:N shard keeps them in the compact form of `compact.py`.

All coordinates inside this module are in a math frame: x right, y *up*,
angles counter-clockwise from +x, which is exactly the template convention
(`angle = atan2(-dy, dx)` in image coordinates) once y is negated.
"""
from __future__ import annotations

import math
from typing import NamedTuple

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
# stage 5, global pairing: each of the PAIR_SEEDS pre-selected pairs of highest relaxed similarity defines a
# rigid transform (its rotation and translation); the PAIR_CANDIDATES candidates of highest local similarity
# are paired one-to-one in that order when the transform brings the minutia of A within
# PAIR_TOL0 + PAIR_TOL_GROWTH * (distance from the seed) px of the minutia of B (distortion accumulates with
# distance) and within PAIR_ANGLE in direction; the seed with the most pairs wins. FVC2002 B all pairs:
# genuine pairs median 17 paired minutiae, impostors 99th percentile 9. Swept (docs/engine.md): 1-4 seeds,
# 48-128 candidates, tolerance 6-12 px + 0.03-0.08 r, 15-30 degrees
PAIR_SEEDS = 3
PAIR_CANDIDATES = 96
PAIR_TOL0 = 6.0
PAIR_TOL_GROWTH = 0.05
PAIR_ANGLE = math.pi / 9.0
# stage 6, normalisation (minimum evidence): the consolidated similarity keeps
# min(1, n_paired / N_EVIDENCE) ** EVIDENCE_POWER of itself, so a score rests on enough globally consistent
# pairs, wherever they are; a template of n < N_FULL valid cylinders also keeps (n / N_FULL) ** FEW_POWER (a
# few-minutia probe, below any FVC2002 print). Replaces lssr-6's (n / 18) ** 1.5 on the template size alone,
# which cost full prints with few cylinders their score. bench contacts, impostors at the 1e-4 threshold
# k = 4 / 8 / 12 / 16: 0 / 0.87x / 0 / 0 nominal; all-pairs EER 2.95 -> 2.23 % (docs/engine.md has the sweep)
N_EVIDENCE = 14
EVIDENCE_POWER = 0.9
N_FULL = 12
FEW_POWER = 1.0
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


class Scratch(NamedTuple):
    """Work arrays of one comparison, reused across the pairs of a batch (`scratch(na, nb)`).

    Local similarities (stage 1), at most na * nb candidates: `keys` (i << 8 | j), `sims`, `bucket_of` (the
    value bucket), and the bucket histogram (`bucket_count`, four interleaved copies; `bucket_start`),
    `order` (candidates by descending bucket), `pick` (compaction buffer), `lut` (direction -> row of B).
    Pre-selection (stage 2): `used_a`, `used_b`, the selected pairs `sel_a`, `sel_b` and their local
    similarity `lam0`. Relaxation (stage 3): `geo` (the selected minutiae's x, y, theta, cos, sin of A then
    B, structure of arrays), `rho` (pair compatibility), `lam` (relaxed similarity), `eff` (efficiency
    lam / lam0, also the relaxation's accumulator). Global pairing (stage 5): `seed_key` (the seeds' order),
    `cand` / `cand_ij` (the best candidates as structure of arrays), `cand_ok` / `cand_idx` (which pass a seed's test),
    `used_a` / `used_b` again (one-to-one), `pair_a` / `pair_b` (a seed's pairs).
    """
    keys: np.ndarray
    sims: np.ndarray
    bucket_of: np.ndarray
    bucket_count: np.ndarray
    bucket_start: np.ndarray
    order: np.ndarray
    pick: np.ndarray
    lut: np.ndarray
    used_a: np.ndarray
    used_b: np.ndarray
    sel_a: np.ndarray
    sel_b: np.ndarray
    lam0: np.ndarray
    geo: np.ndarray
    rho: np.ndarray
    lam: np.ndarray
    eff: np.ndarray
    seed_key: np.ndarray
    cand: np.ndarray
    cand_ij: np.ndarray
    cand_ok: np.ndarray
    cand_idx: np.ndarray
    pair_a: np.ndarray
    pair_b: np.ndarray


@njit(cache=True)
def scratch(na, nb):
    n = max(na * nb, 1)
    return Scratch(np.zeros(n, np.int32), np.zeros(n, np.float32), np.zeros(n, np.int32),
                   np.zeros(4 * _NBUCKET, np.int64), np.zeros(_NBUCKET, np.int64), np.zeros(n, np.int32),
                   np.zeros(n, np.int32), np.zeros(_NLUT + 1, np.int64),
                   np.zeros(na, np.bool_), np.zeros(nb, np.bool_),
                   np.zeros(MAX_NR, np.int32), np.zeros(MAX_NR, np.int32), np.zeros(MAX_NR, np.float32),
                   np.zeros((10, MAX_NR), np.float32), np.zeros((MAX_NR, MAX_NR), np.float32),
                   np.zeros(MAX_NR, np.float32), np.zeros(MAX_NR, np.float32), np.zeros(MAX_NR, np.float32),
                   np.zeros((6, PAIR_CANDIDATES), np.float32), np.zeros((2, PAIR_CANDIDATES), np.int32),
                   np.zeros(PAIR_CANDIDATES, np.bool_), np.zeros(PAIR_CANDIDATES, np.int64),
                   np.zeros(na, np.int32), np.zeros(na, np.int32))


@njit(cache=True, error_model="numpy", inline="always")
def local_similarities(ga, ca, gb, cb, sc):
    """Stage 1: the local similarity of every pair of cylinders within DELTA_THETA in direction and with
    enough common valid cells, appended to sc.keys / sc.sims; returns their count.

    B's cylinders are sorted by direction, so the candidates of each minutia of A form one circular run of B:
    only that run is scanned (direction -> first row of B at or above it by a table of _NLUT angle bins).
    The inner loop is branch-free: unpredictable branches cost more than the popcounts."""
    na = ga.shape[0]
    nb = gb.shape[0]
    min_common = np.int64(math.ceil(MIN_ME * 52.0))  # 52 cells of the 8x8 grid lie within R
    lut = sc.lut
    kk = 0
    for k in range(_NLUT + 1):
        v = k * (TWO_PI / _NLUT)
        while kk < nb and gb[kk, 2] < v:
            kk += 1
        lut[k] = kk
    cnt = 0
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
            cnt = _sim_run(ca, cb, i, s0, s1, min_common, sc.keys, sc.sims, cnt)
        else:
            cnt = _sim_run(ca, cb, i, s0, nb, min_common, sc.keys, sc.sims, cnt)
            cnt = _sim_run(ca, cb, i, 0, s1, min_common, sc.keys, sc.sims, cnt)
    return cnt


@njit(cache=True, error_model="numpy", inline="always")
def _bucket_histogram(sc, cnt):
    """Each candidate's value bucket, and the histogram over them: four interleaved histograms, since
    similar values come in runs and one counter would be a chain of dependent read-modify-writes."""
    bucket_count = sc.bucket_count
    for b in range(4 * _NBUCKET):
        bucket_count[b] = 0
    for t in range(cnt):
        b = min(_NBUCKET - 1, int(sc.sims[t] * _NBUCKET))
        sc.bucket_of[t] = b
        bucket_count[b + (t & 3) * _NBUCKET] += 1
    for b in range(_NBUCKET):
        bucket_count[b] += bucket_count[b + _NBUCKET] + bucket_count[b + 2 * _NBUCKET] + bucket_count[b + 3 * _NBUCKET]


@njit(cache=True, error_model="numpy", inline="always")
def _place_buckets(sc, cnt, b_hi, b_lo, pos, want):
    """Append the candidates of buckets b_hi down to b_lo to sc.order (descending bucket; within a bucket in
    candidate order), stopping at the first bucket that brings the total to `want`. Returns (placed, the
    lowest bucket placed)."""
    bcut = b_lo
    for b in range(b_hi, b_lo - 1, -1):
        sc.bucket_start[b] = pos
        pos += sc.bucket_count[b]
        if pos >= want:
            bcut = b
            break
    k = 0
    for t in range(cnt):  # branch-free compaction of the candidates in the buckets b_hi..bcut
        b = sc.bucket_of[t]
        sc.pick[k] = t
        k += np.int64((b >= bcut) & (b <= b_hi))
    for u in range(k):
        t = sc.pick[u]
        b = sc.bucket_of[t]
        sc.order[sc.bucket_start[b]] = t
        sc.bucket_start[b] += 1
    return pos, bcut


@njit(cache=True, error_model="numpy", inline="always")
def preselect(sc, cnt, na, nb):
    """Stage 2: greedy one-to-one pre-selection of up to min(na, nb, MAX_NR) pairs in (approximately)
    descending local similarity, into sc.sel_a / sc.sel_b / sc.lam0; returns their count and how many
    candidates sc.order holds in descending bucket. Only the best buckets are ordered first (the greedy rarely
    needs more); the rest only if it runs out of candidates."""
    _bucket_histogram(sc, cnt)
    nr_max = min(na, nb, MAX_NR)
    placed, bcut = _place_buckets(sc, cnt, _NBUCKET - 1, 0, 0, _GREEDY_DEPTH * nr_max)
    for i in range(na):
        sc.used_a[i] = False
    for j in range(nb):
        sc.used_b[j] = False
    nr = 0
    o = 0
    while True:
        while o < placed and nr < nr_max:  # branch-free body: a taken pair is written, not counted
            t = sc.order[o]
            o += 1
            i = sc.keys[t] >> 8
            j = sc.keys[t] & 255
            free = not (sc.used_a[i] or sc.used_b[j])
            sc.used_a[i] = sc.used_a[i] or free
            sc.used_b[j] = sc.used_b[j] or free
            sc.sel_a[nr] = i
            sc.sel_b[nr] = j
            sc.lam0[nr] = sc.sims[t]
            nr += np.int64(free)
        if nr >= nr_max or placed >= cnt:
            break
        # place the remaining (lower) buckets after the ones already ordered
        if bcut > 0:
            placed, bcut = _place_buckets(sc, cnt, bcut - 1, 0, placed, cnt + 1)
        placed = cnt
        bcut = 0
    return nr, placed


@njit(cache=True, error_model="numpy", inline="always")
def compatibility(ga, gb, sc, nr):
    """Stage 3a: sc.rho[p, q], how well pairs p and q agree, from distances and angles local to each
    template (rotation/translation free; small tolerances absorb distortion). Branch-free over
    structure-of-arrays copies of the selected minutiae (vectorizes); the linear _zl reach 0 exactly where
    early-outs would be."""
    pg = sc.geo
    rho = sc.rho
    for p in range(nr):
        ia = sc.sel_a[p]
        ib = sc.sel_b[p]
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


@njit(cache=True, error_model="numpy", inline="always")
def relax(sc, nr):
    """Stage 3b: N_REL rounds of lam <- W_R lam + (1 - W_R) / (nr - 1) rho lam from lam0, into sc.lam: pairs
    supported by compatible pairs keep their weight, others fade. rho is symmetric, so the product is a sum
    of scaled rows (independent lanes, no serial reduction)."""
    lam = sc.lam
    eff = sc.eff
    rho = sc.rho
    for p in range(nr):
        lam[p] = sc.lam0[p]
    inv = np.float32(1.0 / (nr - 1))
    wr = np.float32(W_R)
    c1 = (np.float32(1.0) - wr) * inv
    for _ in range(N_REL):
        for p in range(nr):
            eff[p] = wr * lam[p]
        for q in range(nr):
            w = c1 * lam[q]
            for p in range(nr):
                eff[p] += w * rho[q, p]
        for p in range(nr):
            lam[p] = eff[p]


@njit(cache=True, error_model="numpy", inline="always")
def consolidation_size(nmin, nr):
    """n_P: how many relaxed pairs the score averages (MIN_NP..MAX_NP by the smaller template's size)."""
    np_ = MIN_NP + int(round(_z(nmin, MU_P, TAU_P) * (MAX_NP - MIN_NP)))
    return min(np_, nr)


@njit(cache=True, error_model="numpy", inline="always")
def consolidate(sc, nr, np_):
    """Stage 4: the mean relaxed similarity of the np_ pairs with the best efficiency lam / lam0 (ties:
    lower index first), LSS-R. sc.eff keeps the efficiencies."""
    eff = sc.eff
    lam = sc.lam
    for p in range(nr):
        eff[p] = lam[p] / sc.lam0[p]
    s = np.float32(0.0)
    for p in range(nr):
        e = eff[p]
        rank = 0
        for q in range(nr):
            rank += np.int64((eff[q] > e) | ((eff[q] == e) & (q < p)))
        s += lam[p] if rank < np_ else np.float32(0.0)
    return float(s) / np_


@njit(cache=True, error_model="numpy")
def _gather(ga, gb, order, keys, cd, ij, m):
    """`_gather_candidates` over plain arrays (a function of its own, as `_seed_test`)."""
    for u in range(m):
        t = order[u]
        i = keys[t] >> 8
        j = keys[t] & 255
        ij[0, u] = i
        ij[1, u] = j
        cd[0, u] = ga[i, 0]
        cd[1, u] = ga[i, 1]
        cd[2, u] = gb[j, 0]
        cd[3, u] = gb[j, 1]
        cd[4, u] = gb[j, 3] * ga[i, 3] + gb[j, 4] * ga[i, 4]   # cos(theta_b - theta_a)
        cd[5, u] = gb[j, 4] * ga[i, 3] - gb[j, 3] * ga[i, 4]   # sin(theta_b - theta_a)


@njit(cache=True, error_model="numpy", inline="always")
def _gather_candidates(ga, gb, sc, m):
    """The first m candidates of sc.order as structure-of-arrays rows of sc.cand (x, y of A's minutia, x, y of
    B's, cos and sin of their direction difference) and sc.cand_ij (rows of A and B), so each
    seed's test is one branch-free vector loop."""
    cd = sc.cand
    for u in range(m):
        t = sc.order[u]
        i = sc.keys[t] >> 8
        j = sc.keys[t] & 255
        sc.cand_ij[0, u] = i
        sc.cand_ij[1, u] = j
        cd[0, u] = ga[i, 0]
        cd[1, u] = ga[i, 1]
        cd[2, u] = gb[j, 0]
        cd[3, u] = gb[j, 1]
        cd[4, u] = gb[j, 3] * ga[i, 3] + gb[j, 4] * ga[i, 4]   # cos(theta_b - theta_a)
        cd[5, u] = gb[j, 4] * ga[i, 3] - gb[j, 3] * ga[i, 4]   # sin(theta_b - theta_a)


@njit(cache=True, error_model="numpy")
def _seed_test(cd, ok, m, c, s, xa0, ya0, xb0, yb0):
    """ok[u]: candidate u (a column of `cd`, see `_gather_candidates`) agrees with the rigid transform x ->
    R(c, s) x + (xb0, yb0): B's minutia within PAIR_TOL0 + PAIR_TOL_GROWTH * r px of A's transformed (r: A's
    minutia's distance from the seed at (xa0, ya0)) and their directions within PAIR_ANGLE. A function of its
    own, not inlined: so LLVM vectorises the loop (inlined into score_pair it did not)."""
    cmin = np.float32(math.cos(PAIR_ANGLE))
    t0 = np.float32(PAIR_TOL0)
    t1 = np.float32(PAIR_TOL_GROWTH)
    XA, YA, XB, YB, CD, SD = cd[0], cd[1], cd[2], cd[3], cd[4], cd[5]
    for u in range(m):
        dx = XA[u] - xa0
        dy = YA[u] - ya0
        ex = c * XA[u] - s * YA[u] + xb0 - XB[u]
        ey = s * XA[u] + c * YA[u] + yb0 - YB[u]
        tol = t0 + t1 * np.sqrt(dx * dx + dy * dy)
        ok[u] = (ex * ex + ey * ey <= tol * tol) & (CD[u] * c + SD[u] * s >= cmin)


@njit(cache=True, error_model="numpy", inline="always")
def _seed_pairs(ga, gb, sc, m, ia, ib):
    """Candidates sc.cand[:, :m] paired one-to-one (in that order) under the rigid transform of seed pair
    (ia, ib): the transformed minutia of A within PAIR_TOL0 + PAIR_TOL_GROWTH * r px of the minutia of B
    (r: its distance from the seed in A) and within PAIR_ANGLE in direction. Returns how many; the pairs are
    in sc.pair_a / sc.pair_b."""
    phi = gb[ib, 2] - ga[ia, 2]
    c = np.float32(math.cos(phi))
    s = np.float32(math.sin(phi))
    xa0, ya0 = ga[ia, 0], ga[ia, 1]
    xb0 = gb[ib, 0] - (c * xa0 - s * ya0)   # B's position of A's origin under the seed's transform
    yb0 = gb[ib, 1] - (s * xa0 + c * ya0)
    _seed_test(sc.cand, sc.cand_ok, m, c, s, xa0, ya0, xb0, yb0)
    ok = sc.cand_ok
    k = 0
    for u in range(m):  # branch-free compaction of the passing candidates into cand_idx[:k]
        sc.cand_idx[k] = u
        k += np.int64(ok[u])
    n = 0
    for v in range(k):  # one-to-one, in candidate order
        u = sc.cand_idx[v]
        i = sc.cand_ij[0, u]
        j = sc.cand_ij[1, u]
        if sc.used_a[i] or sc.used_b[j]:
            continue
        sc.used_a[i] = True
        sc.used_b[j] = True
        sc.pair_a[n] = i
        sc.pair_b[n] = j
        n += 1
    for v in range(n):  # leave the flags clear for the next seed
        sc.used_a[sc.pair_a[v]] = False
        sc.used_b[sc.pair_b[v]] = False
    return n


@njit(cache=True, error_model="numpy", inline="always")
def global_pairing(ga, gb, sc, cnt, placed, nr):
    """Stage 5: the most minutiae paired one-to-one under one rigid transform, over the transforms of the
    PAIR_SEEDS pre-selected pairs of highest relaxed similarity (ties: lower index; equal counts: the first
    seed), each checked against the PAIR_CANDIDATES candidates of highest local
    similarity. Returns (paired, the winning seed's index among the pre-selected pairs)."""
    m = min(PAIR_CANDIDATES, cnt)
    if placed < m:  # pre-selection ordered fewer: order the best buckets again (same order, further)
        placed, _ = _place_buckets(sc, cnt, _NBUCKET - 1, 0, 0, m)
    _gather(ga, gb, sc.order, sc.keys, sc.cand, sc.cand_ij, m)
    for i in range(ga.shape[0]):
        sc.used_a[i] = False
    for j in range(gb.shape[0]):
        sc.used_b[j] = False
    for p in range(nr):
        sc.seed_key[p] = sc.lam[p]
    best_n = -1
    best_q = 0
    for _ in range(min(PAIR_SEEDS, nr)):
        q = 0
        for p in range(nr):
            if sc.seed_key[p] > sc.seed_key[q]:
                q = p
        sc.seed_key[q] = -1.0
        n = _seed_pairs(ga, gb, sc, m, sc.sel_a[q], sc.sel_b[q])
        if n > best_n:
            best_n = n
            best_q = q
    return best_n, best_q


@njit(cache=True, error_model="numpy", inline="always")
def normalise(lssr, na, nb, paired):
    """Stage 6: the final score from the consolidated one: it keeps min(1, paired / N_EVIDENCE) **
    EVIDENCE_POWER (a score rests on enough globally consistent pairs) and, when the smaller template has
    n < N_FULL valid cylinders, (n / N_FULL) ** FEW_POWER."""
    return (lssr * min(1.0, paired / N_EVIDENCE) ** EVIDENCE_POWER
            * min(1.0, min(na, nb) / N_FULL) ** FEW_POWER)


@njit(cache=True, error_model="numpy", inline="always")
def consolidated(ga, ca, gb, cb, sc):
    """Stages 1-4 for prepared templates A (ga, ca) and B (gb, cb) over the work arrays `sc` (a `Scratch`
    of at least na x nb): the LSS-R similarity before normalisation (0 when too little to consolidate)."""
    na = ga.shape[0]
    nb = gb.shape[0]
    if na < 2 or nb < 2:
        return 0.0
    cnt = local_similarities(ga, ca, gb, cb, sc)
    if cnt == 0:
        return 0.0
    nr, placed = preselect(sc, cnt, na, nb)
    if nr < 2:
        return 0.0
    compatibility(ga, gb, sc, nr)
    relax(sc, nr)
    return consolidate(sc, nr, consolidation_size(min(na, nb), nr))


@njit(cache=True, error_model="numpy", inline="always")
def _stages(ga, ca, gb, cb, sc):
    """Stages 1-5: (LSS-R, minutiae paired by stage 5, pre-selected pairs, n_P, candidates, the winning seed)."""
    na = ga.shape[0]
    nb = gb.shape[0]
    if na < 2 or nb < 2:
        return 0.0, 0, 0, 0, 0, 0
    cnt = local_similarities(ga, ca, gb, cb, sc)
    if cnt == 0:
        return 0.0, 0, 0, 0, 0, 0
    nr, placed = preselect(sc, cnt, na, nb)
    if nr < 2:
        return 0.0, 0, 0, 0, cnt, 0
    compatibility(ga, gb, sc, nr)
    relax(sc, nr)
    np_ = consolidation_size(min(na, nb), nr)
    lssr = consolidate(sc, nr, np_)
    paired, seed = global_pairing(ga, gb, sc, cnt, placed, nr)
    return lssr, paired, nr, np_, cnt, seed


@njit(cache=True, error_model="numpy")
def score_pair(ga, ca, gb, cb, sc):
    """Similarity in [0, 1] of prepared templates A and B: the stages in turn, then the normalisation."""
    r = _stages(ga, ca, gb, cb, sc)
    return normalise(r[0], ga.shape[0], gb.shape[0], r[1])


@njit(cache=True, inline="always")
def largest_template(offsets):
    """The most rows any template of a packed set has (at least 1): the size its scratch needs."""
    maxn = 1
    for t in range(offsets.shape[0] - 1):
        maxn = max(maxn, offsets[t + 1] - offsets[t])
    return maxn


@njit(cache=True)
def consolidated_pairs(g_geo, g_cyl, offsets, left, right):
    """`consolidated` (float64, before normalisation) of template pairs (left[k], right[k]) of one packed set:
    the stages' figure a normalisation is learned from or checked against."""
    n = left.shape[0]
    out = np.zeros(n, np.float64)
    maxn = largest_template(offsets)
    sc = scratch(maxn, maxn)
    for k in range(n):
        a0, a1 = offsets[left[k]], offsets[left[k] + 1]
        b0, b1 = offsets[right[k]], offsets[right[k] + 1]
        out[k] = consolidated(g_geo[a0:a1], g_cyl[a0:a1], g_geo[b0:b1], g_cyl[b0:b1], sc)
    return out


@njit(cache=True)
def paired_pairs(g_geo, g_cyl, offsets, left, right):
    """Stage 5's paired minutiae of template pairs (left[k], right[k]) of one packed set."""
    n = left.shape[0]
    out = np.zeros(n, np.int64)
    maxn = largest_template(offsets)
    sc = scratch(maxn, maxn)
    for k in range(n):
        a0, a1 = offsets[left[k]], offsets[left[k] + 1]
        b0, b1 = offsets[right[k]], offsets[right[k] + 1]
        out[k] = _stages(g_geo[a0:a1], g_cyl[a0:a1], g_geo[b0:b1], g_cyl[b0:b1], sc)[1]
    return out


@njit(cache=True)
def explain_one(ga, ca, gb, cb):
    """The stages of `score_pair` for one pair, with their figures: (candidates, preselected nr, n_P,
    sel_a, sel_b, lam0, lam, eff (per preselected pair), consolidated LSS-R, paired (stage 5), the winning
    seed (index among the pre-selected pairs, -1 if none), pair_a, pair_b (stage 5's pairs, rows of A and B),
    final score)."""
    sc = scratch(ga.shape[0], gb.shape[0])
    na = ga.shape[0]
    nb = gb.shape[0]
    lssr, paired, nr, np_, cnt, seed = _stages(ga, ca, gb, cb, sc)
    if nr >= 2:
        # the winning seed's pairs again (sc.cand still holds the candidates stage 5 used)
        _seed_pairs(ga, gb, sc, min(PAIR_CANDIDATES, cnt), sc.sel_a[seed], sc.sel_b[seed])
    else:
        seed = -1
    return (cnt, nr, np_, sc.sel_a[:nr].copy(), sc.sel_b[:nr].copy(), sc.lam0[:nr].copy(), sc.lam[:nr].copy(),
            sc.eff[:nr].copy(), lssr, paired, seed, sc.pair_a[:paired].copy(), sc.pair_b[:paired].copy(),
            normalise(lssr, na, nb, paired))


@njit(cache=True)
def compare_one(ga, ca, gb, cb):
    return score_pair(ga, ca, gb, cb, scratch(ga.shape[0], gb.shape[0]))


@njit(cache=True)
def compare_to_gallery(ga, ca, g_geo, g_cyl, offsets):
    """Probe against a packed gallery: rows offsets[t]:offsets[t+1] of g_geo/g_cyl."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.float32)
    sc = scratch(ga.shape[0], largest_template(offsets))
    for t in range(n):
        a, b = offsets[t], offsets[t + 1]
        out[t] = score_pair(ga, ca, g_geo[a:b], g_cyl[a:b], sc)
    return out


@njit(cache=True)
def compare_pairs(g_geo, g_cyl, offsets, left, right):
    """Scores of template pairs (left[k], right[k]) of one packed set (bench and calibration)."""
    n = left.shape[0]
    out = np.zeros(n, np.float32)
    maxn = largest_template(offsets)
    sc = scratch(maxn, maxn)
    for k in range(n):
        a0, a1 = offsets[left[k]], offsets[left[k] + 1]
        b0, b1 = offsets[right[k]], offsets[right[k] + 1]
        out[k] = score_pair(g_geo[a0:a1], g_cyl[a0:a1], g_geo[b0:b1], g_cyl[b0:b1], sc)
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
        out[k] = score_pair(ga, ca, g_geo[a:b], g_cyl[a:b], sc)
    return out
