"""Stage 5: binarization and thinning to a one-pixel 8-connected skeleton."""
from __future__ import annotations

import numba as nb
import numpy as np
from scipy import ndimage as ndi

from .params import BinarizationParams

# ring order: N, NE, E, SE, S, SW, W, NW  (dy, dx)
RING_DY = np.array([-1, -1, 0, 1, 1, 1, 0, -1], dtype=np.int64)
RING_DX = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)


def _ring_components(code: int) -> int:
    bits = [(code >> i) & 1 for i in range(8)]
    seen = [False] * 8
    n = 0
    for i in range(8):
        if not bits[i] or seen[i]:
            continue
        n += 1
        stack = [i]
        seen[i] = True
        while stack:
            a = stack.pop()
            for b in range(8):
                if bits[b] and not seen[b]:
                    d = (a - b) % 8
                    if d in (1, 7) or (a % 2 == 0 and b % 2 == 0 and d in (2, 6)):
                        seen[b] = True
                        stack.append(b)
    return n


def _build_luts():
    zs1 = np.zeros(256, dtype=np.bool_)
    zs2 = np.zeros(256, dtype=np.bool_)
    corner = np.zeros(256, dtype=np.bool_)
    for c in range(256):
        p = [(c >> i) & 1 for i in range(8)]  # P2..P9 = N, NE, E, SE, S, SW, W, NW
        b = sum(p)
        a = sum(1 for i in range(8) if p[i] == 0 and p[(i + 1) % 8] == 1)
        n, e, s, w = p[0], p[2], p[4], p[6]
        if 2 <= b <= 6 and a == 1:
            zs1[c] = (n * e * s == 0) and (e * s * w == 0)
            zs2[c] = (n * e * w == 0) and (n * s * w == 0)
        orth = (n and e) or (e and s) or (s and w) or (w and n)
        corner[c] = bool(orth) and b >= 2 and _ring_components(c) == 1 and (n + e + s + w) < 4
    return zs1, zs2, corner


ZS1, ZS2, CORNER = _build_luts()


@nb.njit(cache=True, nogil=True)
def _code(img, y, x):
    c = 0
    for i in range(8):
        if img[y + RING_DY[i], x + RING_DX[i]]:
            c |= 1 << i
    return c


@nb.njit(cache=True, nogil=True)
def _thin(img, zs1, zs2, corner):
    """Zhang-Suen thinning, then removal of staircase corners (in place).

    Each sub-iteration looks only at the pixels still set (kept in raster order), each by its neighbourhood
    code, which a deletion updates in the 8 neighbours: the same result as scanning the whole image (a
    sub-iteration decides on the image as it was before it)."""
    h, w = img.shape
    n_set = 0
    ys = np.empty(h * w, dtype=np.int64)
    xs = np.empty(h * w, dtype=np.int64)
    code = np.zeros((h, w), dtype=np.int64)
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            if img[y, x]:
                ys[n_set] = y
                xs[n_set] = x
                n_set += 1
                code[y, x] = _code(img, y, x)
    gone = np.zeros(n_set, dtype=np.bool_)
    changed = True
    while changed:
        changed = False
        for sub in range(2):
            lut = zs1 if sub == 0 else zs2
            n = 0
            for i in range(n_set):
                if lut[code[ys[i], xs[i]]]:
                    gone[i] = True
                    n += 1
            if n == 0:
                continue
            changed = True
            k = 0
            for i in range(n_set):
                y = ys[i]
                x = xs[i]
                if gone[i]:
                    img[y, x] = False
                    gone[i] = False
                    for r in range(8):   # (y, x) is bit (r + 4) % 8 of its neighbour r's code
                        code[y + RING_DY[r], x + RING_DX[r]] &= ~(1 << ((r + 4) % 8))
                else:
                    ys[k] = y
                    xs[k] = x
                    k += 1
            n_set = k
    for y in range(1, h - 1):
        for x in range(1, w - 1):
            if img[y, x] and corner[_code(img, y, x)]:
                img[y, x] = False
    return img


@nb.njit(cache=True, nogil=True)
def _small_components(img, eight, min_size):
    """Pixels of the connected components of `img` (4- or 8-connected) with fewer than min_size pixels."""
    h, w = img.shape
    seen = np.zeros((h, w), dtype=np.bool_)
    out = np.zeros((h, w), dtype=np.bool_)
    sy = np.empty(h * w, dtype=np.int64)
    sx = np.empty(h * w, dtype=np.int64)
    comp_y = np.empty(h * w, dtype=np.int64)
    comp_x = np.empty(h * w, dtype=np.int64)
    nn = 8 if eight else 4
    for y0 in range(h):
        for x0 in range(w):
            if not img[y0, x0] or seen[y0, x0]:
                continue
            seen[y0, x0] = True
            top = 0
            sy[0] = y0
            sx[0] = x0
            top = 1
            n = 0
            while top > 0:
                top -= 1
                y = sy[top]
                x = sx[top]
                if n < min_size:
                    comp_y[n] = y
                    comp_x[n] = x
                n += 1
                for i in range(0, 8, 1 if eight else 2):
                    yy = y + RING_DY[i]
                    xx = x + RING_DX[i]
                    if 0 <= yy < h and 0 <= xx < w and img[yy, xx] and not seen[yy, xx]:
                        seen[yy, xx] = True
                        sy[top] = yy
                        sx[top] = xx
                        top += 1
            if n < min_size:
                for i in range(n):
                    out[comp_y[i], comp_x[i]] = True
    return out


def binarize(enhanced: np.ndarray, mask: np.ndarray, params: BinarizationParams = BinarizationParams()) -> np.ndarray:
    """Ridge pixels: enhanced > threshold inside the mask, valley specks (4-connected) smaller than
    `fill_hole_px` filled, ridge fragments (8-connected) smaller than `min_blob_px` dropped."""
    m = np.ascontiguousarray(mask, dtype=np.bool_)
    ridges = (enhanced > params.threshold) & m
    if params.fill_hole_px > 0:
        ridges |= _small_components(m & ~ridges, False, int(params.fill_hole_px))
    if params.min_blob_px > 0:
        ridges &= ~_small_components(ridges, True, int(params.min_blob_px))
    return ridges


def thin(binary: np.ndarray) -> np.ndarray:
    img = np.zeros((binary.shape[0] + 2, binary.shape[1] + 2), dtype=np.bool_)
    img[1:-1, 1:-1] = binary
    _thin(img, ZS1, ZS2, CORNER)
    return img[1:-1, 1:-1].copy()
