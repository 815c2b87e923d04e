"""Fast separable helpers (box-filter Gaussians, square morphology)."""
from __future__ import annotations

import numba as nb
import numpy as np
from scipy import ndimage as ndi


def smooth(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian approximated by two box filters (same variance); float32."""
    a = np.asarray(a, dtype=np.float32)
    if sigma <= 0:
        return a
    n = int(round(np.sqrt(6.0 * sigma * sigma + 1.0)))
    if n % 2 == 0:
        n += 1
    if n < 3:
        return ndi.gaussian_filter(a, sigma)
    out = ndi.uniform_filter(a, n, mode="nearest")
    return ndi.uniform_filter(out, n, mode="nearest")


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Dilation by a (2r+1)^2 square."""
    if r <= 0:
        return mask.astype(bool)
    return ndi.uniform_filter(mask.astype(np.float32), 2 * r + 1, mode="constant") > 1e-3


def erode(mask: np.ndarray, r: int) -> np.ndarray:
    """Erosion by a (2r+1)^2 square (outside the image counts as background)."""
    if r <= 0:
        return mask.astype(bool)
    return ndi.uniform_filter(mask.astype(np.float32), 2 * r + 1, mode="constant") > 1 - 1e-3


@nb.njit(cache=True, nogil=True)
def border_distance(mask, ys, xs, rmax):
    """Euclidean distance from each point to the nearest background pixel (capped at rmax)."""
    h, w = mask.shape
    n = ys.shape[0]
    out = np.empty(n, dtype=np.float64)
    r = int(rmax) + 1
    for i in range(n):
        y0 = ys[i]
        x0 = xs[i]
        best = rmax * rmax
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                d2 = dy * dy + dx * dx
                if d2 >= best:
                    continue
                y = y0 + dy
                x = x0 + dx
                if y < 0 or y >= h or x < 0 or x >= w or not mask[y, x]:
                    best = d2
        out[i] = np.sqrt(best)
    return out


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean over f x f blocks (edge-padded); shape ceil(h/f) x ceil(w/f)."""
    a = np.asarray(a, dtype=np.float32)
    h, w = a.shape
    bh, bw = -(-h // f), -(-w // f)
    if bh * f != h or bw * f != w:
        a = np.pad(a, ((0, bh * f - h), (0, bw * f - w)), mode="edge")
    return a.reshape(bh, f, bw, f).mean(axis=(1, 3))


@nb.njit(cache=True, nogil=True)
def _interp_axis(n, f, nb_):
    i0 = np.empty(n, dtype=np.int64)
    i1 = np.empty(n, dtype=np.int64)
    t = np.empty(n, dtype=np.float32)
    for k in range(n):
        v = (k + 0.5) / f - 0.5
        if v < 0.0:
            v = 0.0
        if v > nb_ - 1:
            v = nb_ - 1.0
        a = int(v)
        i0[k] = a
        i1[k] = min(a + 1, nb_ - 1)
        t[k] = v - a
    return i0, i1, t


@nb.njit(cache=True, nogil=True, fastmath=True)
def upsample(low, f, h, w):
    """Bilinear upsampling of a block grid (block centres at (i + 0.5) * f) to h x w."""
    bh, bw = low.shape
    y0, y1, ty = _interp_axis(h, f, bh)
    x0, x1, tx = _interp_axis(w, f, bw)
    out = np.empty((h, w), dtype=np.float32)
    for y in range(h):
        a0 = y0[y]
        a1 = y1[y]
        wy = ty[y]
        for x in range(w):
            b0 = x0[x]
            b1 = x1[x]
            wx = tx[x]
            top = low[a0, b0] + (low[a0, b1] - low[a0, b0]) * wx
            bot = low[a1, b0] + (low[a1, b1] - low[a1, b0]) * wx
            out[y, x] = top + (bot - top) * wy
    return out


def smooth_low(a: np.ndarray, sigma: float, f: int = 4) -> np.ndarray:
    """Gaussian smoothing computed on an f-times smaller grid (block means), upsampled back."""
    h, w = a.shape
    low = block_mean(a, f)
    if sigma > 0:
        low = ndi.gaussian_filter(low, sigma / f, mode="nearest")
    return upsample(np.ascontiguousarray(low, dtype=np.float32), f, h, w)
