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
