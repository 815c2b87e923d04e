"""Stage 0: resolution normalization to 500 dpi and float conversion."""
from __future__ import annotations

import numpy as np
from PIL import Image

from .params import ResolutionParams


def normalize_resolution(pixels: np.ndarray, dpi: int, params: ResolutionParams = ResolutionParams()) -> np.ndarray:
    """Resample an 8-bit image from `dpi` to `params.target_dpi` (Lanczos/area)."""
    if pixels.ndim != 2:
        raise ValueError("pixels must be a 2-D grayscale array")
    if not params.min_dpi <= dpi <= params.max_dpi:
        raise ValueError(f"dpi {dpi} outside {params.min_dpi}..{params.max_dpi}")
    img = np.ascontiguousarray(pixels, dtype=np.uint8) if pixels.dtype != np.uint8 else np.ascontiguousarray(pixels)
    if dpi == params.target_dpi:
        return img
    scale = params.target_dpi / float(dpi)
    h, w = img.shape
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    return np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.uint8)
