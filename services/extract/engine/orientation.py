"""Stage 2: ridge orientation field and coherence (structure tensor)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .filters import block_mean, upsample
from .params import OrientationParams

GRID = 4  # the tensor is averaged on a 4-px grid (it is smooth at that scale)


def orientation_field(img: np.ndarray, mask: np.ndarray | None = None,
                      params: OrientationParams = OrientationParams()) -> tuple[np.ndarray, np.ndarray]:
    """Return (theta, coherence).

    theta: ridge direction in radians in [0, pi), image coordinates
    (x right, y down): the ridge runs along (cos theta, sin theta).
    coherence: 0 (isotropic) .. 1 (perfectly parallel ridges).
    """
    h, w = img.shape
    f = img.astype(np.float32)
    if params.gradient_sigma > 0:
        f = ndi.gaussian_filter(f, params.gradient_sigma)
    gx = ndi.sobel(f, axis=1)
    gy = ndi.sobel(f, axis=0)
    gxx = block_mean(gx * gx, GRID)
    gyy = block_mean(gy * gy, GRID)
    gxy = block_mean(gx * gy, GRID)
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
    energy = gxx + gyy
    coh = np.sqrt(c2 * c2 + s2 * s2) / (energy + 1e-6)
    if params.field_sigma > 0:
        c2 = ndi.gaussian_filter(c2, params.field_sigma / GRID, mode="nearest")
        s2 = ndi.gaussian_filter(s2, params.field_sigma / GRID, mode="nearest")
    c2u = upsample(np.ascontiguousarray(c2, dtype=np.float32), GRID, h, w)
    s2u = upsample(np.ascontiguousarray(s2, dtype=np.float32), GRID, h, w)
    theta = np.mod(0.5 * np.arctan2(s2u, c2u) + np.pi / 2, np.pi).astype(np.float32)
    cohu = upsample(np.ascontiguousarray(np.clip(coh, 0, 1), dtype=np.float32), GRID, h, w)
    return theta, cohu
