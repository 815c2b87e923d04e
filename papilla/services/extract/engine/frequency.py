"""Stage 3: local ridge period (inverse frequency) from oriented x-signatures."""
from __future__ import annotations

import numba as nb
import numpy as np
from scipy import ndimage as ndi

from .filters import upsample
from .params import FrequencyParams


@nb.njit(cache=True, nogil=True)
def _bilinear(img, x, y):
    h, w = img.shape
    if x < 0.0:
        x = 0.0
    if y < 0.0:
        y = 0.0
    if x > w - 1.001:
        x = w - 1.001
    if y > h - 1.001:
        y = h - 1.001
    x0 = int(x)
    y0 = int(y)
    fx = x - x0
    fy = y - y0
    a = img[y0, x0] * (1.0 - fx) + img[y0, x0 + 1] * fx
    b = img[y0 + 1, x0] * (1.0 - fx) + img[y0 + 1, x0 + 1] * fx
    return a * (1.0 - fy) + b * fy


@nb.njit(cache=True, nogil=True)
def _block_periods(img, theta, mask, step, length, width, pmin, pmax):
    h, w = img.shape
    nby = (h + step - 1) // step
    nbx = (w + step - 1) // step
    out = np.zeros((nby, nbx), dtype=np.float32)
    sig = np.zeros(length, dtype=np.float64)
    sm = np.zeros(length, dtype=np.float64)
    for by in range(nby):
        for bx in range(nbx):
            cy = min(by * step + step // 2, h - 1)
            cx = min(bx * step + step // 2, w - 1)
            if not mask[cy, cx]:
                continue
            th = theta[cy, cx]
            rx = np.cos(th)
            ry = np.sin(th)
            nx = -ry
            ny = rx
            for k in range(length):
                t = k - length * 0.5
                acc = 0.0
                for s in range(width):
                    u = s - width * 0.5
                    acc += _bilinear(img, cx + t * nx + u * rx, cy + t * ny + u * ry)
                sig[k] = acc / width
            for k in range(length):
                a = sig[max(k - 1, 0)]
                b = sig[min(k + 1, length - 1)]
                sm[k] = 0.25 * a + 0.5 * sig[k] + 0.25 * b
            mean = 0.0
            for k in range(length):
                mean += sm[k]
            mean /= length
            # peaks (ridges are dark: use minima -> maxima of the negated signal)
            first = -1
            last = -1
            npk = 0
            amp = 0.0
            for k in range(1, length - 1):
                if sm[k] < sm[k - 1] and sm[k] <= sm[k + 1] and sm[k] < mean:
                    if first < 0:
                        first = k
                    last = k
                    npk += 1
                    amp += mean - sm[k]
            if npk >= 2:
                p = (last - first) / (npk - 1.0)
                if pmin <= p <= pmax and amp / npk > 1e-3:
                    out[by, bx] = p
    return out


def _fill_invalid(per: np.ndarray, default: float) -> np.ndarray:
    """Blocks without an estimate take the nearest valid block's period."""
    valid = per > 0
    if not valid.any():
        return np.full_like(per, default)
    if valid.all():
        return per
    idx = ndi.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    return per[idx[0], idx[1]]


def block_periods(img: np.ndarray, theta: np.ndarray, mask: np.ndarray,
                  params: FrequencyParams = FrequencyParams()) -> np.ndarray:
    """Ridge period per `params.block` cell (float32), 0 where no plausible estimate.

    Cells outside the mask, without two clear ridges in the signature, with a
    period out of [min_period, max_period] or far (> 45 %) from the median of
    the valid cells are 0.  The fraction of foreground cells with an estimate
    tells whether the image has a ridge frequency at all (`usability`).
    """
    f = np.ascontiguousarray(img, dtype=np.float32)
    per = _block_periods(f, np.ascontiguousarray(theta, dtype=np.float32), np.ascontiguousarray(mask),
                         params.block, params.window_length, params.window_width,
                         params.min_period, params.max_period)
    valid = per > 0
    if valid.sum() >= 4:
        med = float(np.median(per[valid]))
        per[valid & (np.abs(per - med) > 0.45 * med)] = 0
    return per


def period_field(blocks: np.ndarray, shape: tuple[int, int],
                 params: FrequencyParams = FrequencyParams()) -> np.ndarray:
    """Per-pixel ridge period from the block estimates: gaps filled, smoothed, clipped."""
    h, w = shape
    per = _fill_invalid(blocks.copy(), params.default_period)
    if params.smooth_sigma > 0:
        per = ndi.gaussian_filter(per, params.smooth_sigma, mode="nearest")
    out = upsample(np.ascontiguousarray(per, dtype=np.float32), params.block, h, w)
    return np.clip(out, params.min_period, params.max_period)


def ridge_period(img: np.ndarray, theta: np.ndarray, mask: np.ndarray,
                 params: FrequencyParams = FrequencyParams()) -> np.ndarray:
    """Per-pixel ridge period in px (float32); frequency = 1 / period."""
    return period_field(block_periods(img, theta, mask, params), img.shape, params)
