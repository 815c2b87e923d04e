"""Stage 4: contextual enhancement.

A 2-D Gabor filter tuned to the local orientation and period, computed as
two oriented 1-D passes (Gaussian along the ridge, then a zero-mean Gabor
profile across it).  For a locally straight ridge flow this equals the
separable 2-D Gabor, at a fraction of the cost.  Output is positive on
ridges (input ridges are dark), roughly unit variance.

Each pass reads precomputed tap tables (`tap_table`): per orientation bin
(`EnhancementParams.angle_bins` over [0, pi)) the flat offsets and bilinear
weights of every tap, so the per-pixel loop only loads and multiplies.
"""
from __future__ import annotations

import numba as nb
import numpy as np
from scipy import ndimage as ndi

from .filters import _interp_axis, dilate
from .params import EnhancementParams


@nb.njit(cache=True, nogil=True, fastmath=True)
def _moments(img, g):
    h, w = img.shape
    bh = (h + g - 1) // g
    bw = (w + g - 1) // g
    s1 = np.zeros((bh, bw), dtype=np.float32)
    s2 = np.zeros((bh, bw), dtype=np.float32)
    cnt = np.zeros((bh, bw), dtype=np.float32)
    for y in range(h):
        by = y // g
        for bx in range(bw):          # block by block along the row (no division per pixel)
            a1 = s1[by, bx]
            a2 = s2[by, bx]
            for x in range(bx * g, min(bx * g + g, w)):
                v = np.float32(img[y, x])
                a1 += v
                a2 += v * v
            s1[by, bx] = a1
            s2[by, bx] = a2
            cnt[by, bx] += min(bx * g + g, w) - bx * g
    return s1 / cnt, s2 / cnt


@nb.njit(cache=True, nogil=True, fastmath=True)
def _apply_norm(img, mean_low, sd_low, g):
    """(img - mean) / (sd + 1) with mean and sd bilinearly upsampled from the g-px grid."""
    h, w = img.shape
    bh, bw = mean_low.shape
    y0, y1, ty = _interp_axis(h, g, bh)
    x0, x1, tx = _interp_axis(w, g, bw)
    out = np.empty((h, w), dtype=np.float32)
    for y in range(h):
        a0 = y0[y]
        a1 = y1[y]
        wy = ty[y]
        for x in range(w):
            b0 = x0[x]
            b1 = x1[x]
            wx = tx[x]
            mt = mean_low[a0, b0] + (mean_low[a0, b1] - mean_low[a0, b0]) * wx
            mb = mean_low[a1, b0] + (mean_low[a1, b1] - mean_low[a1, b0]) * wx
            st = sd_low[a0, b0] + (sd_low[a0, b1] - sd_low[a0, b0]) * wx
            sb = sd_low[a1, b0] + (sd_low[a1, b1] - sd_low[a1, b0]) * wx
            m = mt + (mb - mt) * wy
            sd = st + (sb - st) * wy
            out[y, x] = (np.float32(img[y, x]) - m) / (sd + np.float32(1.0))
    return out


def normalize(img: np.ndarray, sigma: float, grid: int = 4) -> np.ndarray:
    """Zero local mean, unit local standard deviation (Gaussian window `sigma`)."""
    m1, m2 = _moments(np.ascontiguousarray(img), grid)
    m1 = ndi.gaussian_filter(m1, sigma / grid, mode="nearest")
    m2 = ndi.gaussian_filter(m2, sigma / grid, mode="nearest")
    sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0)).astype(np.float32)
    return _apply_norm(np.ascontiguousarray(img), m1.astype(np.float32), sd, grid)


def _kernels(pmin: float, pmax: float, step: float, ratio: float, cutoff: float = 2.5):
    periods = np.arange(pmin, pmax + step * 0.5, step)
    radius = int(np.ceil(cutoff * ratio * pmax))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    ker = np.zeros((len(periods), len(t)), dtype=np.float32)
    for i, p in enumerate(periods):
        sig = ratio * p
        env = np.exp(-t * t / (2 * sig * sig))
        env[np.abs(t) > cutoff * sig + 0.5] = 0
        g = env * np.cos(2 * np.pi * t / p)
        g -= env * (g.sum() / env.sum())          # zero mean (no DC response)
        g /= np.sqrt((g * g).sum())
        ker[i] = -g                                  # dark ridges -> positive output
    return ker, radius


def tap_table(offsets: np.ndarray, weights: np.ndarray, bins: int, across: bool):
    """Bilinear taps of a 1-D oriented filter, per orientation bin: (dy0, dx0, w4).

    Tap i of bin a samples the point `offsets[i]` px along the ridge direction a * pi / bins (across it when
    `across`), i.e. the four pixels (dy0, dx0) + {0, 1}^2 with bilinear weights w4[a, i] (times
    `weights[i]`, the filter's coefficient; pass ones to apply the coefficient later)."""
    th = np.arange(bins) * np.pi / bins
    ux, uy = (-np.sin(th), np.cos(th)) if across else (np.cos(th), np.sin(th))
    px = ux[:, None] * offsets[None, :]
    py = uy[:, None] * offsets[None, :]
    x0, y0 = np.floor(px), np.floor(py)
    fx, fy = px - x0, py - y0
    w4 = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=2) * weights[None, :, None]
    return y0.astype(np.int64), x0.astype(np.int64), w4.astype(np.float32)


@nb.njit(cache=True, nogil=True)
def angle_bins(theta, bins):
    """The orientation bin (0..bins-1) of each pixel's ridge direction theta in [0, pi) (nearest bin)."""
    h, w = theta.shape
    out = np.empty((h, w), dtype=np.int32)
    f = bins / np.pi
    for y in range(h):
        for x in range(w):
            out[y, x] = int(np.rint(theta[y, x] * f)) % bins
    return out


@nb.njit(cache=True, nogil=True, fastmath=True)
def _oriented(pad, r, abin, kbin, mask, off, w4, coef, ntap):
    """sum_i coef[k, i] * (bilinear sample of tap i of bin a) over the first ntap[k] taps, at each mask pixel
    (a = abin and k = kbin there).

    `pad` is the image padded by r on every side; off[a, i] is tap i's offset in the flattened `pad` and
    w4[a, i] its four bilinear weights. (The tap loop starts at 0: with a start index, even one fixed per
    call, numba's loop ran six times slower, 16 instead of 2.7 ns a tap.)"""
    h, w = mask.shape
    wp = pad.shape[1]
    flat = pad.ravel()
    out = np.zeros((h, w), dtype=np.float32)
    for y in range(h):
        for x in range(w):
            if not mask[y, x]:
                continue
            a = abin[y, x]
            k = kbin[y, x]
            base = (y + r) * wp + x + r
            acc = np.float32(0.0)
            for i in range(ntap[k]):
                o = base + off[a, i]
                s = (w4[a, i, 0] * flat[o] + w4[a, i, 1] * flat[o + 1]
                     + w4[a, i, 2] * flat[o + wp] + w4[a, i, 3] * flat[o + wp + 1])
                acc += coef[k, i] * s
            out[y, x] = acc
    return out


def _apply(img: np.ndarray, abin: np.ndarray, kbin: np.ndarray, mask: np.ndarray, table, coef: np.ndarray,
           ntap: np.ndarray, reach: int) -> np.ndarray:
    """Run the tap table (dy0, dx0, w4) with coefficients coef[k, i] over the first ntap[k] taps over img
    (taps within `reach` px)."""
    dy0, dx0, w4 = table
    r = reach + 2
    pad = np.pad(np.asarray(img, dtype=np.float32), r, mode="edge")
    off = np.ascontiguousarray(dy0 * pad.shape[1] + dx0)
    return _oriented(pad, r, abin, kbin, mask, off, np.ascontiguousarray(w4), np.ascontiguousarray(coef),
                     np.asarray(ntap, dtype=np.int64))


def along_ridges(img: np.ndarray, abin: np.ndarray, mask: np.ndarray, sigma: float, bins: int) -> np.ndarray:
    """Gaussian smoothing (sigma px) along the ridge direction, taps every 2 px over +-2.5 sigma."""
    r = int(np.ceil(1.25 * sigma))
    t = 2.0 * np.arange(-r, r + 1)
    g = np.exp(-t * t / (2.0 * sigma * sigma))
    key = ("along", sigma, bins)
    if key not in _KCACHE:
        _KCACHE[key] = tap_table(t, np.ones(len(t)), bins, across=False)
    coef = (g / g.sum()).astype(np.float32)[None, :]
    return _apply(img, abin, np.zeros(mask.shape, np.int32), mask, _KCACHE[key], coef, [len(t)], 2 * r)


@nb.njit(cache=True, nogil=True)
def period_bins(period, mask, pmin, pstep, nk):
    """The kernel row (0..nk-1) of each pixel's period, and which rows occur inside the mask."""
    h, w = period.shape
    out = np.zeros((h, w), dtype=np.int32)
    seen = np.zeros(nk, dtype=np.bool_)
    for y in range(h):
        for x in range(w):
            k = int((period[y, x] - pmin) / pstep + 0.5)
            k = min(max(k, 0), nk - 1)
            out[y, x] = k
            if mask[y, x]:
                seen[k] = True
    return out, seen


def centre_out(radius: int) -> np.ndarray:
    """Tap offsets 0, -1, 1, -2, 2, ... -radius, radius: every kernel row's support is a prefix."""
    return np.array([0] + [s * d for d in range(1, radius + 1) for s in (-1, 1)], dtype=np.int64)


def across_ridges(img: np.ndarray, abin: np.ndarray, period: np.ndarray, mask: np.ndarray, ker: np.ndarray,
                  radius: int, pmin: float, pstep: float, bins: int) -> np.ndarray:
    """The Gabor profile of the local period (kernel row per period step) across the ridge direction.

    Taps are ordered from the centre out, so each pixel runs only its row's support (`ntap[k]` taps) and the
    tables cover only the widest row present."""
    order = centre_out(radius)
    key = ("across", radius, bins)
    if key not in _KCACHE:
        coef = np.ascontiguousarray(ker[:, radius + order])
        ntap = np.array([np.flatnonzero(row).max() + 1 if row.any() else 0 for row in coef], np.int64)
        _KCACHE[key] = (tap_table(order.astype(np.float64), np.ones(len(order)), bins, across=True), coef, ntap)
    (dy0, dx0, w4), coef, ntap = _KCACHE[key]
    kbin, seen = period_bins(period, mask, float(pmin), float(pstep), len(ker))
    n = int(ntap[seen].max()) if seen.any() else 1
    reach = int(np.abs(order[:n]).max())
    return _apply(img, abin, kbin, mask, (dy0[:, :n], dx0[:, :n], w4[:, :n]), coef[:, :n], ntap, reach)


_KCACHE: dict = {}


def enhance(img: np.ndarray, theta: np.ndarray, period: np.ndarray, mask: np.ndarray,
            params: EnhancementParams = EnhancementParams(),
            pmin: float = 4.0, pmax: float = 16.0) -> np.ndarray:
    key = (pmin, pmax, params.period_step, params.across_sigma_ratio, params.across_cutoff)
    if key not in _KCACHE:
        _KCACHE[key] = _kernels(pmin, pmax, params.period_step, params.across_sigma_ratio, params.across_cutoff)
    ker, radius = _KCACHE[key]
    norm = normalize(img, params.normalize_sigma)
    work = dilate(mask, radius // 2 + 2)
    abin = angle_bins(theta, params.angle_bins)
    sm = along_ridges(norm, abin, work, float(params.along_sigma), params.angle_bins)
    return across_ridges(sm, abin, np.asarray(period, dtype=np.float32), np.ascontiguousarray(mask), ker, radius,
                         float(pmin), float(params.period_step), params.angle_bins)
