"""MCC cylinders (bit form) of a template's minutiae: Cappelli, Ferrara, Maltoni, IEEE TPAMI 32(12), 2010.

A cylinder is an NS x NS x ND grid of cells in the minutia's own frame; a cell is valid within the radius R
and inside the minutiae's convex hull enlarged by OMEGA, and its bit in direction slice k is set when the
neighbouring minutiae near the cell, with a relative direction near slice k, contribute at least MU_PSI.
The parameters are in `mcc` (part of the engine version); the scoring of two templates' cylinders is there
too. Coordinates are in the math frame of `mcc` (y up).

Nothing here is cached by numba (`cache=False`): these functions compile in the parameters or the
`score_pair` kernel of `mcc.py`, and numba's cache is invalidated by changes to its own file only, so a
cached copy would silently keep an old kernel or old parameters after `mcc.py` changes (a 1:N shard would
then score differently from 1:1). Compiling them costs a few seconds at a process's first use.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .mcc import R, NS, ND, SIGMA_S, SIGMA_D, MU_PSI, OMEGA, MIN_VC, MIN_M, TWO_PI


@njit(cache=True, inline="always")
def dphi(a, b):
    """a - b wrapped to [-pi, pi)."""
    d = a - b
    while d < -math.pi:
        d += TWO_PI
    while d >= math.pi:
        d -= TWO_PI
    return d


@njit(cache=False)  # never cached: it compiles in constants or kernels of mcc.py, whose changes numba
#                     does not see here (a cached copy would keep the old ones); see the module docstring
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


@njit(cache=False)  # never cached: it compiles in constants or kernels of mcc.py, whose changes numba
#                     does not see here (a cached copy would keep the old ones); see the module docstring
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
