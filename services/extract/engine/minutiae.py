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
def trace_all(skel, ys, xs, maxlen, dir_len):
    """Follow every branch of every minutia along the skeleton.

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
    for m in range(n):
        y0 = ys[m]
        x0 = xs[m]
        bits = np.zeros(8, dtype=np.bool_)
        for i in range(8):
            yy = y0 + RING_DY[i]
            xx = x0 + RING_DX[i]
            if 0 <= yy < h and 0 <= xx < w:
                bits[i] = skel[yy, xx]
        # runs of set bits around the ring
        nruns = 0
        first0 = -1
        for i in range(8):
            if not bits[i]:
                first0 = i
                break
        if first0 < 0:
            continue
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
        nb_ = min(nruns, 3)
        nbranch[m] = nb_
        for b in range(nb_):
            sid += 1
            stamp[y0, x0] = sid
            # stamp the ring pixels of the other runs
            for i in range(8):
                if bits[i]:
                    yy = y0 + RING_DY[i]
                    xx = x0 + RING_DX[i]
                    stamp[yy, xx] = sid
            cy = y0 + RING_DY[starts[b]]
            cx = x0 + RING_DX[starts[b]]
            # unstamp the pixels of this branch's run: walk the run containing starts[b]
            k = starts[b]
            while bits[k]:
                stamp[y0 + RING_DY[k], x0 + RING_DX[k]] = 0
                k = (k + 1) % 8
                if k == starts[b]:
                    break
            k = (starts[b] + 7) % 8
            while bits[k] and k != starts[b]:
                stamp[y0 + RING_DY[k], x0 + RING_DX[k]] = 0
                k = (k + 7) % 8
            stamp[cy, cx] = sid
            steps = 1
            rsn = TRACE_MAXLEN
            hv = -1
            dx = float(cx - x0)
            dy = float(cy - y0)
            if steps >= dir_len:
                pass
            while True:
                lb = label[cy, cx]
                if lb >= 0 and lb != m:
                    rsn = TRACE_HIT
                    hv = lb
                    break
                if steps >= maxlen:
                    rsn = TRACE_MAXLEN
                    break
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
                if ny < 0:
                    rsn = TRACE_DEADEND
                    break
                cy = ny
                cx = nx
                stamp[cy, cx] = sid
                steps += 1
                if steps <= dir_len:
                    dx = float(cx - x0)
                    dy = float(cy - y0)
            reason[m, b] = rsn
            length[m, b] = steps
            hit[m, b] = hv
            vx[m, b] = dx
            vy[m, b] = dy
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
