"""Stage 2: ridge orientation field and coherence (structure tensor).

Sobel gradients of the lightly smoothed image are accumulated into a 4-px
grid of structure tensors (one fused pass), smoothed there, and the
doubled-angle field is interpolated back to every pixel.
"""
from __future__ import annotations

import numba as nb
import numpy as np
from scipy import ndimage as ndi

from .filters import block_mean, gaussian, upsample
from .params import OrientationParams

GRID = 4  # the tensor is averaged on a 4-px grid (it is smooth at that scale)


@nb.njit(cache=True, nogil=True, fastmath=True)
def _tensor_blocks(f, g):
    h, w = f.shape
    bh = (h + g - 1) // g
    bw = (w + g - 1) // g
    gxx = np.zeros((bh, bw), dtype=np.float32)
    gyy = np.zeros((bh, bw), dtype=np.float32)
    gxy = np.zeros((bh, bw), dtype=np.float32)
    for y in range(1, h - 1):
        by = y // g
        bx = 1 // g
        nxt = (bx + 1) * g           # first x of the next block (no division per pixel)
        for x in range(1, w - 1):
            if x == nxt:
                bx += 1
                nxt += g
            gx = (f[y - 1, x + 1] + 2.0 * f[y, x + 1] + f[y + 1, x + 1]
                  - f[y - 1, x - 1] - 2.0 * f[y, x - 1] - f[y + 1, x - 1])
            gy = (f[y + 1, x - 1] + 2.0 * f[y + 1, x] + f[y + 1, x + 1]
                  - f[y - 1, x - 1] - 2.0 * f[y - 1, x] - f[y - 1, x + 1])
            gxx[by, bx] += gx * gx
            gyy[by, bx] += gy * gy
            gxy[by, bx] += gx * gy
    s = 1.0 / (g * g)
    return gxx * s, gyy * s, gxy * s


@nb.njit(cache=True, nogil=True, fastmath=True)
def _cos_sin_grid(c2, s2, g, h, w):
    """Upsample the doubled-angle field and return cos/sin of the ridge angle per pixel."""
    return _cos_sin(upsample(c2, g, h, w), upsample(s2, g, h, w))


@nb.njit(cache=True, nogil=True, fastmath=True)
def _cos_sin(c2u, s2u):
    """cos/sin of the ridge angle theta in [0, pi) from the gradient's doubled-angle vector.

    Ridge = gradient + 90 deg, so cos 2theta = -c2/r, sin 2theta = -s2/r;
    sin theta >= 0 and cos theta takes the sign of sin 2theta.
    """
    h, w = c2u.shape
    ct = np.empty((h, w), dtype=np.float32)
    st = np.empty((h, w), dtype=np.float32)
    for y in range(h):
        for x in range(w):
            c = c2u[y, x]
            s = s2u[y, x]
            r = np.sqrt(c * c + s * s)
            if r < 1e-12:
                ct[y, x] = 1.0
                st[y, x] = 0.0
                continue
            c2t = -c / r
            s2t = -s / r
            cc = np.sqrt(max(0.0, 0.5 * (1.0 + c2t)))
            st[y, x] = np.sqrt(max(0.0, 0.5 * (1.0 - c2t)))
            ct[y, x] = cc if s2t >= 0.0 else -cc
    return ct, st


def orientation_field_full(img: np.ndarray, mask: np.ndarray | None = None,
                           params: OrientationParams = OrientationParams()):
    """(theta, coherence, cos theta, sin theta), all float32 at full resolution."""
    h, w = img.shape
    f = gaussian(img, params.gradient_sigma)
    gxx, gyy, gxy = _tensor_blocks(f, GRID)
    if mask is not None:
        wgt = ndi.binary_dilation(block_mean(mask, GRID) > 0, iterations=2)
        gxx *= wgt
        gyy *= wgt
        gxy *= wgt
    s = params.tensor_sigma / GRID
    gxx = ndi.gaussian_filter(gxx, s, mode="nearest")
    gyy = ndi.gaussian_filter(gyy, s, mode="nearest")
    gxy = ndi.gaussian_filter(gxy, s, mode="nearest")
    c2 = gxx - gyy
    s2 = 2.0 * gxy
    coh = np.sqrt(c2 * c2 + s2 * s2) / (gxx + gyy + 1e-6)
    if params.field_sigma > 0:
        c2 = ndi.gaussian_filter(c2, params.field_sigma / GRID, mode="nearest")
        s2 = ndi.gaussian_filter(s2, params.field_sigma / GRID, mode="nearest")
    ct, st = _cos_sin_grid(np.ascontiguousarray(c2, dtype=np.float32),
                           np.ascontiguousarray(s2, dtype=np.float32), GRID, h, w)
    theta = np.arccos(np.clip(ct, -1.0, 1.0)).astype(np.float32)   # sin theta >= 0: theta in [0, pi]
    theta[theta >= np.float32(np.pi)] = 0.0
    cohu = upsample(np.ascontiguousarray(np.clip(coh, 0, 1), dtype=np.float32), GRID, h, w)
    return theta, cohu, ct, st


def orientation_field(img: np.ndarray, mask: np.ndarray | None = None,
                      params: OrientationParams = OrientationParams()) -> tuple[np.ndarray, np.ndarray]:
    """Return (theta, coherence).

    theta: ridge direction in radians in [0, pi), image coordinates
    (x right, y down): the ridge runs along (cos theta, sin theta).
    coherence: 0 (isotropic) .. 1 (perfectly parallel ridges).
    """
    theta, coh, _, _ = orientation_field_full(img, mask, params)
    return theta, coh
