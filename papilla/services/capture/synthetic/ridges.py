"""Ridge growth by iterative contextual (Gabor) filtering, in numba.

A bank of zero-mean Gabor kernels is precomputed for quantized orientation
and period; each step filters every active pixel with the kernel of its own
orientation and period, then saturates.  Started from seeds (one at the
core, by default), ridges grow outwards along the orientation field; where
the period or orientation field forces the number of ridges to change, and
where fronts from two seeds meet out of phase, ridge endings and
bifurcations appear on their own, as in SFinGe (Cappelli, Maio, Maltoni).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

N_ORIENT = 36           # 5 degree steps over [0, pi)
PERIOD_MIN = 5.0
PERIOD_MAX = 14.0
PERIOD_STEP = 0.25


@lru_cache(maxsize=8)
def kernel_bank(sigma_across: float, sigma_along: float) -> np.ndarray:
    """Gabor kernels, shape (N_ORIENT, n_periods, K, K), float32.

    Orientation bin o is the ridge direction o*pi/N_ORIENT in image
    coordinates (x right, y down).  Each kernel is zero-mean and normalized so
    that a unit cosine ridge pattern of matching period and orientation comes
    back with unit amplitude.
    """
    periods = np.arange(PERIOD_MIN, PERIOD_MAX + 1e-6, PERIOD_STEP)
    # truncated at ~1.7 sigma of a 10 px period: long-period kernels lose a little of their tail
    radius = int(np.ceil(1.7 * sigma_along * 10.0))
    k = 2 * radius + 1
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float64)
    bank = np.zeros((N_ORIENT, len(periods), k, k), np.float32)
    for o in range(N_ORIENT):
        th = o * np.pi / N_ORIENT
        along = xx * np.cos(th) + yy * np.sin(th)
        across = -xx * np.sin(th) + yy * np.cos(th)
        for p, period in enumerate(periods):
            sa, sc = sigma_along * period, sigma_across * period
            env = np.exp(-along ** 2 / (2 * sa ** 2) - across ** 2 / (2 * sc ** 2))
            carrier = np.cos(2 * np.pi * across / period)
            g = env * carrier
            g -= env * (g.sum() / env.sum())          # zero mean
            response = (g * carrier).sum()            # to a unit cosine
            bank[o, p] = g / response
    return bank


def quantize(orientation: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orientation (radians, ridge direction) and period (px) to bank indices."""
    o = np.round(np.mod(orientation, np.pi) / np.pi * N_ORIENT).astype(np.int32) % N_ORIENT
    p = np.clip(np.round((period - PERIOD_MIN) / PERIOD_STEP), 0,
                round((PERIOD_MAX - PERIOD_MIN) / PERIOD_STEP)).astype(np.int32)
    return o, p


@njit(cache=True, nogil=True, fastmath=True)
def contextual_filter(img, obin, pbin, active, bank, out):
    """out[i, j] = (img * bank[obin, pbin])[i, j] on active pixels, 0 elsewhere.

    `img` must carry a zero border of at least K//2 pixels where `active` is
    False (see `grow_ridges`), so the inner loops have a fixed length.
    """
    h, w = img.shape
    k = bank.shape[2]
    r = k // 2
    for i in range(h):
        for j in range(w):
            if not active[i, j] or i < r or j < r or i >= h - r or j >= w - r:
                out[i, j] = 0.0
                continue
            kern = bank[obin[i, j], pbin[i, j]]
            s = np.float32(0.0)
            for a in range(k):
                row = img[i + a - r, j - r:j + r + 1]
                kr = kern[a]
                for b in range(k):
                    s += row[b] * kr[b]
            out[i, j] = s


@njit(cache=True, nogil=True)
def _saturate(v, gain, active):
    h, w = v.shape
    m = 0.0
    for i in range(h):
        for j in range(w):
            a = abs(v[i, j])
            if a > m:
                m = a
    scale = gain
    if m > 0.0 and m * gain < 1.0:      # still growing from seeds: amplify globally
        scale = 1.0 / m
    for i in range(h):
        for j in range(w):
            if not active[i, j]:
                v[i, j] = 0.0
                continue
            x = v[i, j] * scale
            if x > 1.0:
                x = 1.0
            elif x < -1.0:
                x = -1.0
            v[i, j] = x


@njit(cache=True, nogil=True)
def _support(img, radius, active, out):
    """out = active pixels within `radius` (Chebyshev) of a nonzero pixel of img."""
    h, w = img.shape
    rows = np.zeros((h, w), np.bool_)
    for i in range(h):
        last = -10 ** 9
        for j in range(w):            # forward pass: distance to last nonzero on the left
            if img[i, j] != 0.0:
                last = j
            rows[i, j] = j - last <= radius
        last = 10 ** 9
        for j in range(w - 1, -1, -1):
            if img[i, j] != 0.0:
                last = j
            if last - j <= radius:
                rows[i, j] = True
    for j in range(w):
        last = -10 ** 9
        for i in range(h):
            if rows[i, j]:
                last = i
            out[i, j] = active[i, j] and i - last <= radius
        last = 10 ** 9
        for i in range(h - 1, -1, -1):
            if rows[i, j]:
                last = i
            if last - i <= radius and active[i, j]:
                out[i, j] = True


def grow_ridges(orientation: np.ndarray, period: np.ndarray, active: np.ndarray,
                seeds: np.ndarray, iterations: int, gain: float,
                sigma_across: float, sigma_along: float, refine_steps: int = 0,
                arrival_level: float = 0.5) -> np.ndarray:
    """Grow a ridge pattern in [-1, 1] (ridge > 0) from seeds (N, 3: row, col, sign).

    With `refine_steps` > 0 each pixel is filtered only for that many steps
    after the growth front reached it (|value| >= `arrival_level`) and then
    keeps its value, so every part of the pad gets the same amount of
    smoothing however far it lies from a seed; `iterations` is then the
    upper bound of steps and growth stops early once every pixel is done.
    With 0, every pixel is filtered at every one of the `iterations` steps.
    """
    bank = kernel_bank(float(sigma_across), float(sigma_along))
    radius = bank.shape[2] // 2
    h, w = orientation.shape
    pad = ((radius, radius), (radius, radius))
    obin, pbin = quantize(np.pad(orientation, pad, mode="edge"), np.pad(period, pad, mode="edge"))
    active = np.pad(active, pad, constant_values=False)
    img = np.zeros((h + 2 * radius, w + 2 * radius), np.float32)
    for r, c, s in seeds:
        img[int(r) + radius, int(c) + radius] = float(s)
    out = np.empty_like(img)
    support = np.empty(img.shape, np.bool_)
    arrived = np.full(img.shape, -1, np.int32)
    for step in range(iterations):
        _support(img, radius, active, support)
        if refine_steps > 0:
            frozen = (arrived >= 0) & (step - arrived >= refine_steps)
            support &= ~frozen
            if not support.any():
                break
        contextual_filter(img, obin, pbin, support, bank, out)
        _saturate(out, gain, active)
        if refine_steps > 0:
            out[frozen] = img[frozen]
            arrived[(arrived < 0) & (np.abs(out) >= arrival_level)] = step
        img, out = out, img
    # one last linear pass gives a smooth ridge profile instead of a clipped one
    contextual_filter(img, obin, pbin, active, bank, out)
    np.clip(out, -1.5, 1.5, out=out)
    out /= 1.5
    return np.ascontiguousarray(out[radius:radius + h, radius:radius + w])
