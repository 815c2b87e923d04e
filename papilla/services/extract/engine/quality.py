"""Stage 8: local (per-pixel) and per-finger quality."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .filters import block_mean, upsample
from .params import QualityParams


def _ramp(v, lo, hi):
    return float(np.clip((v - lo) / (hi - lo), 0.0, 1.0))


def local_quality(coherence: np.ndarray, enhanced: np.ndarray, mask: np.ndarray,
                  params: QualityParams = QualityParams()) -> np.ndarray:
    """0..1 map: ridge-flow coherence times ridge-response strength, 0 outside the mask."""
    h, w = coherence.shape
    c = block_mean(coherence, 8)
    c = np.clip((c - params.coherence_low) / (params.coherence_high - params.coherence_low), 0, 1)
    e = ndi.gaussian_filter(block_mean(enhanced, 8, square=True), 0.75, mode="nearest")
    s = np.clip(np.sqrt(np.maximum(e, 0.0)) / 1.2, 0, 1)
    q = upsample(np.sqrt(c * s).astype(np.float32), 8, h, w)
    return (q * mask).astype(np.float32)


def finger_quality(pixels: np.ndarray, mask: np.ndarray, coherence: np.ndarray, qmap: np.ndarray,
                   n_minutiae: int, params: QualityParams = QualityParams()) -> int:
    """0..100 from foreground area, gray contrast, clarity and minutiae count."""
    area = int(mask.sum())
    if area == 0:
        return 0
    fg = pixels[mask].astype(np.float32)
    contrast = _ramp(float(fg.std()), 3.0, params.full_contrast)
    area_f = min(1.0, area / params.full_area_px)
    clarity = float(qmap[mask].mean())
    count_f = min(1.0, n_minutiae / params.full_minutiae)
    q = 100.0 * (area_f ** 0.5) * contrast * (clarity ** 0.7) * (count_f ** 0.5)
    return int(np.clip(round(q), 0, 100))
