"""Stage 2: ridge orientation field and coherence (structure tensor)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .filters import dilate, smooth
from .params import OrientationParams


def orientation_field(img: np.ndarray, mask: np.ndarray | None = None,
                      params: OrientationParams = OrientationParams()) -> tuple[np.ndarray, np.ndarray]:
    """Return (theta, coherence).

    theta: ridge direction in radians in [0, pi), image coordinates
    (x right, y down): the ridge runs along (cos theta, sin theta).
    coherence: 0 (isotropic) .. 1 (perfectly parallel ridges).
    """
    f = img.astype(np.float32)
    if params.gradient_sigma > 0:
        f = ndi.gaussian_filter(f, params.gradient_sigma)
    gx = ndi.sobel(f, axis=1)
    gy = ndi.sobel(f, axis=0)
    if mask is not None:
        wgt = dilate(mask, 8).astype(np.float32)
        gx *= wgt
        gy *= wgt
    s = params.tensor_sigma
    gxx = smooth(gx * gx, s)
    gyy = smooth(gy * gy, s)
    gxy = smooth(gx * gy, s)
    c2 = gxx - gyy
    s2 = 2.0 * gxy
    energy = gxx + gyy
    coh = np.sqrt(c2 * c2 + s2 * s2) / (energy + 1e-6)
    if params.field_sigma > 0:
        c2 = smooth(c2, params.field_sigma)
        s2 = smooth(s2, params.field_sigma)
    grad_angle = 0.5 * np.arctan2(s2, c2)          # dominant gradient direction
    theta = np.mod(grad_angle + np.pi / 2, np.pi).astype(np.float32)
    return theta, np.clip(coh, 0.0, 1.0).astype(np.float32)
