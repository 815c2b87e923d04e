"""Stage 6: minutiae detection on the skeleton (crossing number) and ridge tracing.

Directions follow the template contract (ISO/IEC 19794-2): radians in
[0, 2*pi), counter-clockwise from +x as seen on screen.  A ridge ending
points from the ending into its ridge; a bifurcation points away from its
stem, between the two branches (so an ending and the bifurcation it becomes
when ridges and valleys swap point the same way).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from .thinning import RING_DX, RING_DY

ENDING = 1
BIFURCATION = 2

# trace end reasons
TRACE_MAXLEN = 0
TRACE_DEADEND = 1
TRACE_HIT = 2


@nb.njit(cache=True, nogil=True)
def detect(skel, mask):
    """Crossing-number minutiae: returns (ys, xs, kinds)."""
    h, w = skel.shape
    ys = []
    xs = []
    ks = []
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            if not skel[y, x] or not mask[y, x]:
                continue
            cn = 0
            nb_ = 0
            for i in range(8):
                a = skel[y + RING_DY[i], x + RING_DX[i]]
                b = skel[y + RING_DY[(i + 1) % 8], x + RING_DX[(i + 1) % 8]]
                if a:
                    nb_ += 1
                if (not a) and b:
                    cn += 1
            if cn == 1 and nb_ <= 2:
                ys.append(y)
                xs.append(x)
                ks.append(1)
            elif cn == 3:
                ys.append(y)
                xs.append(x)
                ks.append(2)
    n = len(ys)
    oy = np.empty(n, dtype=np.int64)
    ox = np.empty(n, dtype=np.int64)
    ok = np.empty(n, dtype=np.int64)
    for i in range(n):
        oy[i] = ys[i]
        ox[i] = xs[i]
        ok[i] = ks[i]
    return oy, ox, ok


@nb.njit(cache=True, nogil=True)
def _ring_runs(skel, y0, x0, bits, starts):
    """The skeleton pixels on the 8-ring of (y0, x0) in bits, and the start of each run of them in starts
    (an even, 4-connected ring position when the run has one); returns the number of runs (0 when the whole
    ring is set: no branch to follow)."""
    h, w = skel.shape
    for i in range(8):
        yy = y0 + RING_DY[i]
        xx = x0 + RING_DX[i]
        bits[i] = skel[yy, xx] if 0 <= yy < h and 0 <= xx < w else False
    first0 = -1
    for i in range(8):
        if not bits[i]:
            first0 = i
            break
    if first0 < 0:
        return 0
    nruns = 0
    i = 0
    while i < 8:
        k = (first0 + 1 + i) % 8
        if bits[k]:
            # new run starting at k
            best = k
            j = i
            found_even = k % 2 == 0
            while j < 8 and bits[(first0 + 1 + j) % 8]:
                kk = (first0 + 1 + j) % 8
                if not found_even and kk % 2 == 0:
                    best = kk
                    found_even = True
                j += 1
            if nruns < 8:
                starts[nruns] = best
            nruns += 1
            i = j
        else:
            i += 1
    return nruns


@nb.njit(cache=True, nogil=True)
def _fence_other_runs(stamp, sid, y0, x0, bits, start):
    """Stamp the minutia and its ring pixels with `sid`, except the run containing `start` (the branch to
    follow), so the trace cannot step back into another branch."""
    stamp[y0, x0] = sid
    for i in range(8):
        if bits[i]:
            stamp[y0 + RING_DY[i], x0 + RING_DX[i]] = sid
    k = start
    while bits[k]:
        stamp[y0 + RING_DY[k], x0 + RING_DX[k]] = 0
        k = (k + 1) % 8
        if k == start:
            break
    k = (start + 7) % 8
    while bits[k] and k != start:
        stamp[y0 + RING_DY[k], x0 + RING_DX[k]] = 0
        k = (k + 7) % 8


@nb.njit(cache=True, nogil=True)
def _next_pixel(skel, label, stamp, sid, m, y0, x0, cy, cx):
    """The skeleton neighbour of (cy, cx) to step to, (-1, -1) at a dead end: another minutia first, then
    4-connected pixels, staying off the origin's ring if possible; never a pixel this trace stamped."""
    h, w = skel.shape
    ny = -1
    nx = -1
    pri = -1
    for i in range(8):
        yy = cy + RING_DY[i]
        xx = cx + RING_DX[i]
        if yy < 0 or yy >= h or xx < 0 or xx >= w:
            continue
        if not skel[yy, xx] or stamp[yy, xx] == sid:
            continue
        p = 1
        if label[yy, xx] >= 0 and label[yy, xx] != m:
            p = 4
        elif i % 2 == 0:
            p = 2
        if abs(yy - y0) <= 1 and abs(xx - x0) <= 1:
            p -= 1  # stay off the origin's ring if possible
        if p > pri:
            pri = p
            ny = yy
            nx = xx
    return ny, nx


@nb.njit(cache=True, nogil=True)
def _trace_branch(skel, label, stamp, sid, m, y0, x0, start, maxlen, dir_len):
    """Follow one branch of minutia m from ring position `start`: (end reason, steps, minutia hit or -1,
    dx, dy of the point `dir_len` steps along or the last reached)."""
    cy = y0 + RING_DY[start]
    cx = x0 + RING_DX[start]
    stamp[cy, cx] = sid
    steps = 1
    dx = float(cx - x0)
    dy = float(cy - y0)
    while True:
        lb = label[cy, cx]
        if lb >= 0 and lb != m:
            return TRACE_HIT, steps, lb, dx, dy
        if steps >= maxlen:
            return TRACE_MAXLEN, steps, -1, dx, dy
        ny, nx = _next_pixel(skel, label, stamp, sid, m, y0, x0, cy, cx)
        if ny < 0:
            return TRACE_DEADEND, steps, -1, dx, dy
        cy = ny
        cx = nx
        stamp[cy, cx] = sid
        steps += 1
        if steps <= dir_len:
            dx = float(cx - x0)
            dy = float(cy - y0)


@nb.njit(cache=True, nogil=True)
def trace_all(skel, ys, xs, maxlen, dir_len):
    """Follow every branch (up to 3) of every minutia along the skeleton.

    Returns nbranch[N], reason[N,3], length[N,3], hit[N,3] (index or -1),
    vx[N,3], vy[N,3] (vector from the minutia to the branch point at
    `dir_len` steps, or the last point reached).
    """
    h, w = skel.shape
    n = ys.shape[0]
    label = np.full((h, w), -1, dtype=np.int64)
    for i in range(n):
        label[ys[i], xs[i]] = i
    stamp = np.zeros((h, w), dtype=np.int64)
    sid = 0
    nbranch = np.zeros(n, dtype=np.int64)
    reason = np.zeros((n, 3), dtype=np.int64)
    length = np.zeros((n, 3), dtype=np.int64)
    hit = np.full((n, 3), -1, dtype=np.int64)
    vx = np.zeros((n, 3), dtype=np.float64)
    vy = np.zeros((n, 3), dtype=np.float64)
    starts = np.zeros(8, dtype=np.int64)
    bits = np.zeros(8, dtype=np.bool_)
    for m in range(n):
        nb_ = min(_ring_runs(skel, ys[m], xs[m], bits, starts), 3)
        nbranch[m] = nb_
        for b in range(nb_):
            sid += 1
            _fence_other_runs(stamp, sid, ys[m], xs[m], bits, starts[b])
            reason[m, b], length[m, b], hit[m, b], vx[m, b], vy[m, b] = _trace_branch(
                skel, label, stamp, sid, m, ys[m], xs[m], starts[b], maxlen, dir_len)
    return nbranch, reason, length, hit, vx, vy


def directions(kinds: np.ndarray, nbranch: np.ndarray, vx: np.ndarray, vy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image-space direction angle (atan2(dy, dx), y down) of each minutia, and validity.

    Ending: towards the traced ridge.  Bifurcation: the stem is the branch
    whose direction is farthest from the other two; the direction is the mean
    of the fork bisector and the reversed stem.
    """
    n = len(kinds)
    ang = np.zeros(n, dtype=np.float64)
    ok = np.zeros(n, dtype=bool)
    if n == 0:
        return ang, ok
    a = np.arctan2(vy, vx)                       # (n, 3)
    u = np.exp(1j * a)
    end = (kinds == ENDING) & (nbranch >= 1)
    ang[end] = a[end, 0]
    ok[end] = True
    bif = (kinds == BIFURCATION) & (nbranch == 3)
    if bif.any():
        ub = u[bif]
        # angular gap between the two branches other than s, for s = 0, 1, 2
        gaps = np.stack([np.abs(np.angle(ub[:, 1] * np.conj(ub[:, 2]))),
                         np.abs(np.angle(ub[:, 0] * np.conj(ub[:, 2]))),
                         np.abs(np.angle(ub[:, 0] * np.conj(ub[:, 1])))], axis=1)
        stem = np.argmin(gaps, axis=1)
        rows = np.arange(len(ub))
        stem_u = ub[rows, stem]
        fork = ub.sum(axis=1) - stem_u
        anti = -stem_u
        ang[bif] = np.angle(fork / np.maximum(np.abs(fork), 1e-9) + anti)
        ok[bif] = True
    return ang, ok
