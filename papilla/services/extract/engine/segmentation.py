"""Stage 1: foreground segmentation (where there is a ridge pattern)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .enhancement import _moments
from .filters import erode
from .params import SegmentationParams


def _block_mean(a: np.ndarray, b: int) -> np.ndarray:
    h, w = a.shape
    bh, bw = (h + b - 1) // b, (w + b - 1) // b
    pad = np.pad(a, ((0, bh * b - h), (0, bw * b - w)), mode="edge")
    return pad.reshape(bh, b, bw, b).mean(axis=(1, 3))


def block_contrast(img: np.ndarray, params: SegmentationParams = SegmentationParams()) -> np.ndarray:
    """Local std-dev of the high-passed image (gray levels), one value per block."""
    m1, m2 = _moments(np.ascontiguousarray(img), params.block)
    var = np.maximum(m2 - m1 * m1, 0.0)     # within-block variance: ridge contrast, no illumination
    var = ndi.gaussian_filter(var, params.std_sigma / params.block, mode="nearest")
    return np.sqrt(np.maximum(var, 0.0))


def segment(img: np.ndarray, params: SegmentationParams = SegmentationParams(),
            coherence: np.ndarray | None = None) -> np.ndarray:
    """Boolean foreground mask of the same shape as `img`."""
    h, w = img.shape
    b = params.block
    bstd = block_contrast(img, params)
    ref = float(np.percentile(bstd, 90)) if bstd.size else 0.0
    thr = max(params.min_std, params.rel_std * ref)
    bm = bstd >= thr
    if coherence is not None and params.min_coherence > 0:
        bm &= _block_mean(coherence, b) >= params.min_coherence
    if params.close_blocks > 0:
        st = ndi.generate_binary_structure(2, 1)
        bm = ndi.binary_closing(np.pad(bm, params.close_blocks), st, iterations=params.close_blocks)[
            params.close_blocks:-params.close_blocks, params.close_blocks:-params.close_blocks]
    if params.open_blocks > 0:
        bm = ndi.binary_opening(bm, iterations=params.open_blocks)
    bm = ndi.binary_fill_holes(bm)
    if params.keep_largest and bm.any():
        lab, n = ndi.label(bm)
        if n > 1:
            sizes = np.bincount(lab.ravel())
            sizes[0] = 0
            bm = lab == int(np.argmax(sizes))
    mask = np.repeat(np.repeat(bm, b, axis=0), b, axis=1)[:h, :w]
    if params.erode_px > 0 and mask.any():
        # erosion with a disk-like footprint, border of the image counts as background
        mask = erode(mask, params.erode_px)
    return mask
