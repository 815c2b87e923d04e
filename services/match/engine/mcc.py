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
similarities (LSS-R).

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
MAX_MINUTIAE = 72   # keep the best-quality minutiae beyond this count
# global consolidation
MIN_NP, MAX_NP, MU_P, TAU_P = 4, 12, 20.0, 0.4
N_REL, W_R = 5, 0.5
MU1, TAU1 = 5.0, -8.0 / 5.0
MU2, TAU2 = math.pi / 12.0, -30.0
MU3, TAU3 = math.pi / 12.0, -30.0
MAX_NR = 40         # cap on relaxed pairs (cost is quadratic)

TWO_PI = 2.0 * math.pi


@intrinsic
def popcount64(typingctx, x):
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@njit(cache=True, inline="always")
def dphi(a, b):
    """a - b wrapped to [-pi, pi)."""
    d = a - b
    while d < -math.pi:
        d += TWO_PI
    while d >= math.pi:
        d -= TWO_PI
    return d


@njit(cache=True)
def convex_hull(xs, ys):
    """Monotone chain; returns indices of hull vertices in counter-clockwise order."""
    n = xs.shape[0]
    order = np.argsort(xs * 1e6 + ys)
    hull = np.empty(2 * n + 2, np.int64)
    k = 0
    for idx in range(n):
        p = order[idx]
        while k >= 2:
            o, a = hull[k - 2], hull[k - 1]
            cr = (xs[a] - xs[o]) * (ys[p] - ys[o]) - (ys[a] - ys[o]) * (xs[p] - xs[o])
            if cr <= 0:
                k -= 1
            else:
                break
        hull[k] = p
        k += 1
    lower = k + 1
    for idx in range(n - 2, -1, -1):
        p = order[idx]
        while k >= lower:
            o, a = hull[k - 2], hull[k - 1]
            cr = (xs[a] - xs[o]) * (ys[p] - ys[o]) - (ys[a] - ys[o]) * (xs[p] - xs[o])
            if cr <= 0:
                k -= 1
            else:
                break
        hull[k] = p
        k += 1
    if k > 1:
        k -= 1
    return hull[:k]


@njit(cache=True, inline="always")
def _near_hull(px, py, hx, hy, omega):
    m = hx.shape[0]
    if m == 0:
        return False
    if m == 1:
        return (px - hx[0]) ** 2 + (py - hy[0]) ** 2 <= omega * omega
    inside = m >= 3
    best = 1e30
    for e in range(m):
        ax, ay = hx[e], hy[e]
        bx, by = hx[(e + 1) % m], hy[(e + 1) % m]
        ex, ey = bx - ax, by - ay
        cr = ex * (py - ay) - ey * (px - ax)
        if cr < 0:
            inside = False
        l2 = ex * ex + ey * ey
        t = 0.0
        if l2 > 0:
            t = ((px - ax) * ex + (py - ay) * ey) / l2
            t = min(1.0, max(0.0, t))
        dx, dy = px - (ax + t * ex), py - (ay + t * ey)
        d2 = dx * dx + dy * dy
        if d2 < best:
            best = d2
    return inside or best <= omega * omega


@njit(cache=True)
def build_cylinders(xs, ys, th):
    """Cylinders of every minutia -> (bits (n, ND) uint64, mask (n,) uint64, valid (n,) bool)."""
    n = xs.shape[0]
    bits = np.zeros((n, ND), np.uint64)
    mask = np.zeros(n, np.uint64)
    valid = np.zeros(n, np.bool_)
    if n == 0:
        return bits, mask, valid
    hidx = convex_hull(xs, ys)
    hx = xs[hidx].copy()
    hy = ys[hidx].copy()
    ds = 2.0 * R / NS
    dd = TWO_PI / ND
    gs_norm = 1.0 / (SIGMA_S * math.sqrt(TWO_PI))
    lim2 = (3.0 * SIGMA_S) ** 2
    sq2sd = math.sqrt(2.0) * SIGMA_D
    n_within = 0
    for i in range(NS):
        for j in range(NS):
            u = (i - (NS - 1) / 2.0) * ds
            v = (j - (NS - 1) / 2.0) * ds
            if u * u + v * v <= R * R:
                n_within += 1
    acc = np.zeros(ND)
    for m in range(n):
        c = math.cos(th[m])
        s = math.sin(th[m])
        # neighbourhood count
        nn = 0
        for t in range(n):
            if t != m and (xs[t] - xs[m]) ** 2 + (ys[t] - ys[m]) ** 2 <= (R + 3.0 * SIGMA_S) ** 2:
                nn += 1
        if nn < MIN_M:
            continue
        nvalid = 0
        for i in range(NS):
            for j in range(NS):
                u = (i - (NS - 1) / 2.0) * ds
                v = (j - (NS - 1) / 2.0) * ds
                if u * u + v * v > R * R:
                    continue
                px = xs[m] + c * u - s * v
                py = ys[m] + s * u + c * v
                if not _near_hull(px, py, hx, hy, OMEGA):
                    continue
                cell = np.uint64(i * NS + j)
                mask[m] |= np.uint64(1) << cell
                nvalid += 1
                acc[:] = 0.0
                for t in range(n):
                    if t == m:
                        continue
                    d2 = (xs[t] - px) ** 2 + (ys[t] - py) ** 2
                    if d2 > lim2:
                        continue
                    gs = gs_norm * math.exp(-d2 / (2.0 * SIGMA_S * SIGMA_S))
                    dth = dphi(th[m], th[t])
                    for k in range(ND):
                        dk = -math.pi + (k + 0.5) * dd
                        alpha = dphi(dk, dth)
                        gd = 0.5 * (math.erf((alpha + dd / 2) / sq2sd) - math.erf((alpha - dd / 2) / sq2sd))
                        acc[k] += gs * gd
                for k in range(ND):
                    if acc[k] >= MU_PSI:
                        bits[m, k] |= np.uint64(1) << cell
        valid[m] = nvalid >= MIN_VC * n_within
    return bits, mask, valid


# --- matching -----------------------------------------------------------------
# A prepared template is packed as: geo float32 (n, 4) = x, y (math frame), theta, 0
# and cyl uint64 (n, ND + 1) = ND slices then the validity word.

_NBUCKET = 128


@njit(cache=True, fastmath=True, inline="always")
def _z(v, mu, tau):
    return 1.0 / (1.0 + math.exp(-tau * (v - mu)))


@njit(cache=True, fastmath=True)
def score_pair(ga, ca, gb, cb, work_i, work_j, work_v, lam, lam0, rho, sel_a, sel_b, bucket_count, bucket_start):
    na = ga.shape[0]
    nb = gb.shape[0]
    if na < 2 or nb < 2:
        return 0.0
    min_common = MIN_ME * 52.0  # 52 cells of the 8x8 grid lie within R
    # 1. local similarities, bucketed by value
    cnt = 0
    for b in range(_NBUCKET):
        bucket_count[b] = 0
    for i in range(na):
        thi = ga[i, 2]
        ma = ca[i, ND]
        for j in range(nb):
            d = thi - gb[j, 2]
            if d < -math.pi:
                d += TWO_PI
            elif d >= math.pi:
                d -= TWO_PI
            if abs(d) > DELTA_THETA:
                continue
            m = ma & cb[j, ND]
            if popcount64(m) < min_common:
                continue
            nand = 0
            nor = 0
            for k in range(ND):
                x = ca[i, k] & m
                y = cb[j, k] & m
                nand += popcount64(x & y)
                nor += popcount64(x | y)
            if nor == 0:
                continue
            sim = 2.0 * nand / (nor + nand)
            if sim <= 0.0:
                continue
            work_i[cnt] = i
            work_j[cnt] = j
            work_v[cnt] = sim
            b = min(_NBUCKET - 1, int(sim * _NBUCKET))
            bucket_count[b] += 1
            cnt += 1
    if cnt == 0:
        return 0.0
    # 2. greedy one-to-one preselection in (approximately) descending order
    nr_max = min(na, nb, MAX_NR)
    pos = 0
    for b in range(_NBUCKET - 1, -1, -1):
        bucket_start[b] = pos
        pos += bucket_count[b]
    order = np.empty(cnt, np.int32)
    for t in range(cnt):
        b = min(_NBUCKET - 1, int(work_v[t] * _NBUCKET))
        order[bucket_start[b]] = t
        bucket_start[b] += 1
    used_a = np.zeros(na, np.bool_)
    used_b = np.zeros(nb, np.bool_)
    nr = 0
    for o in range(cnt):
        t = order[o]
        i = work_i[t]
        j = work_j[t]
        if used_a[i] or used_b[j]:
            continue
        used_a[i] = True
        used_b[j] = True
        sel_a[nr] = i
        sel_b[nr] = j
        lam0[nr] = work_v[t]
        nr += 1
        if nr >= nr_max:
            break
    if nr < 2:
        return 0.0
    # 3. relaxation
    for p in range(nr):
        rho[p, p] = 0.0
        ia = sel_a[p]
        ib = sel_b[p]
        xa, ya, ta = ga[ia, 0], ga[ia, 1], ga[ia, 2]
        xb, yb, tb = gb[ib, 0], gb[ib, 1], gb[ib, 2]
        for q in range(p + 1, nr):
            ka = sel_a[q]
            kb = sel_b[q]
            dxa = ga[ka, 0] - xa
            dya = ga[ka, 1] - ya
            dxb = gb[kb, 0] - xb
            dyb = gb[kb, 1] - yb
            da = math.sqrt(dxa * dxa + dya * dya)
            db = math.sqrt(dxb * dxb + dyb * dyb)
            d1 = abs(da - db)
            if d1 > 3.0 * MU1:
                rho[p, q] = 0.0
                rho[q, p] = 0.0
                continue
            # direction difference of the two minutiae, compared across templates
            d2 = abs(dphi(dphi(ta, ga[ka, 2]), dphi(tb, gb[kb, 2])))
            if d2 > 3.0 * MU2:
                rho[p, q] = 0.0
                rho[q, p] = 0.0
                continue
            # radial angle: direction of the connecting segment relative to each minutia
            pa = math.atan2(dya, dxa)
            pb = math.atan2(dyb, dxb)
            d3 = abs(dphi(dphi(ta, pa), dphi(tb, pb)))
            d3b = abs(dphi(dphi(ga[ka, 2], pa), dphi(gb[kb, 2], pb)))
            d3 = max(d3, d3b)
            r = _z(d1, MU1, TAU1) * _z(d2, MU2, TAU2) * _z(d3, MU3, TAU3)
            rho[p, q] = r
            rho[q, p] = r
    for p in range(nr):
        lam[p] = lam0[p]
    tmp = work_v  # reuse as scratch (cnt >= nr)
    inv = 1.0 / (nr - 1)
    for _ in range(N_REL):
        for p in range(nr):
            s = 0.0
            for q in range(nr):
                s += rho[p, q] * lam[q]
            tmp[p] = W_R * lam[p] + (1.0 - W_R) * s * inv
        for p in range(nr):
            lam[p] = tmp[p]
    # 4. the nP pairs with the best efficiency
    nmin = min(na, nb)
    np_ = MIN_NP + int(round(_z(nmin, MU_P, TAU_P) * (MAX_NP - MIN_NP)))
    np_ = min(np_, nr)
    eff = np.empty(nr)
    for p in range(nr):
        eff[p] = lam[p] / lam0[p]
    idx = np.argsort(-eff)
    s = 0.0
    for r_ in range(np_):
        s += lam[idx[r_]]
    return s / np_


@njit(cache=True)
def _scratch(na, nb):
    n = max(na * nb, 1)
    return (np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.float64),
            np.empty(MAX_NR), np.empty(MAX_NR), np.empty((MAX_NR, MAX_NR)),
            np.empty(MAX_NR, np.int32), np.empty(MAX_NR, np.int32),
            np.empty(_NBUCKET, np.int64), np.empty(_NBUCKET, np.int64))


@njit(cache=True)
def compare_one(ga, ca, gb, cb):
    wi, wj, wv, lam, lam0, rho, sa, sb, bc, bs = _scratch(ga.shape[0], gb.shape[0])
    return score_pair(ga, ca, gb, cb, wi, wj, wv, lam, lam0, rho, sa, sb, bc, bs)


@njit(cache=True)
def compare_to_gallery(ga, ca, g_geo, g_cyl, offsets):
    """Probe against a packed gallery: rows offsets[t]:offsets[t+1] of g_geo/g_cyl."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, np.float32)
    maxn = 1
    for t in range(n):
        maxn = max(maxn, offsets[t + 1] - offsets[t])
    wi, wj, wv, lam, lam0, rho, sa, sb, bc, bs = _scratch(ga.shape[0], maxn)
    for t in range(n):
        a, b = offsets[t], offsets[t + 1]
        out[t] = score_pair(ga, ca, g_geo[a:b], g_cyl[a:b], wi, wj, wv, lam, lam0, rho, sa, sb, bc, bs)
    return out


@njit(cache=True)
def compare_pairs(g_geo, g_cyl, offsets, left, right):
    """Scores of template pairs (left[k], right[k]) of one packed set (bench and calibration)."""
    n = left.shape[0]
    out = np.zeros(n, np.float32)
    maxn = 1
    for t in range(offsets.shape[0] - 1):
        maxn = max(maxn, offsets[t + 1] - offsets[t])
    wi, wj, wv, lam, lam0, rho, sa, sb, bc, bs = _scratch(maxn, maxn)
    for k in range(n):
        a0, a1 = offsets[left[k]], offsets[left[k] + 1]
        b0, b1 = offsets[right[k]], offsets[right[k] + 1]
        out[k] = score_pair(g_geo[a0:a1], g_cyl[a0:a1], g_geo[b0:b1], g_cyl[b0:b1],
                            wi, wj, wv, lam, lam0, rho, sa, sb, bc, bs)
    return out
