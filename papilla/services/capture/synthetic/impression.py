"""Impressions: what a 500 dpi plain scanner sees when the finger touches it.

From the master's ridge pattern: a rigid placement (translation, rotation),
elastic skin distortion (Cappelli, Maio, Maltoni 2001: an undistorted
close-contact region, a transition band and an outer region displaced by the
lateral push of the finger) plus a small smooth random warp, partial contact
(an irregular contact ellipse inside the finger silhouette), pressure and
moisture varying over the finger (ridge thickness, broken dry ridges),
platen dirt, background, blur and sensor noise.

Everything is vectorized numpy/scipy on the output grid; one impression of
the default 320x400 size takes a few tens of milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._fields import smooth_noise
from .master import MasterFingerprint
from .params import DPI, ImpressionParams


@dataclass(frozen=True, eq=False)
class ImpressionInfo:
    """Ground truth for one impression.

    `affine` (2x3) maps impression pixel (x, y, 1) to master pixel (x, y) for
    the rigid part; `map_x`/`map_y` give the full (distorted) master
    coordinates of every impression pixel.
    """

    affine: np.ndarray
    rotation_deg: float
    translation: tuple[float, float]
    map_x: np.ndarray
    map_y: np.ndarray
    contact: np.ndarray         # float32 (H, W) in [0, 1]
    pressure: float
    dryness: float
    dpi: int = DPI

    def to_master(self, x: float, y: float) -> tuple[float, float]:
        """Rigid part only: master coordinates of impression pixel (x, y)."""
        a = self.affine
        return (a[0, 0] * x + a[0, 1] * y + a[0, 2], a[1, 0] * x + a[1, 1] * y + a[1, 2])


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _placement(rng: np.random.Generator, p: ImpressionParams, master: MasterFingerprint):
    """Rigid placement: (rotation, translation, affine output pixel -> master pixel, master x and y of every
    output pixel, output pixel grid yy, xx)."""
    h, w = p.height, p.width
    cx, cy = master.center
    phi = np.deg2rad(rng.uniform(-p.max_rotation, p.max_rotation))
    r = p.max_translation * np.sqrt(rng.uniform())
    ang = rng.uniform(0, 2 * np.pi)
    t = (r * np.cos(ang), r * np.sin(ang))
    # plain impressions show the upper part of the pad: aim a little above its centre
    ox, oy = cx + t[0], cy - 0.12 * master.size[1] + t[1]
    c, s = np.cos(phi), np.sin(phi)
    affine = np.array([[c, -s, ox - c * w / 2 + s * h / 2],
                       [s, c, oy - s * w / 2 - c * h / 2]], np.float64)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mx = (affine[0, 0] * xx + affine[0, 1] * yy + affine[0, 2]).astype(np.float32)
    my = (affine[1, 0] * xx + affine[1, 1] * yy + affine[1, 2]).astype(np.float32)
    return phi, t, affine, mx, my, yy, xx


def _contact_ellipse(rng: np.random.Generator, p: ImpressionParams, master: MasterFingerprint, mx, my):
    """The contact region in master coordinates, before distortion: its centre and every pixel's
    elliptical distance from it (1 on the irregular border)."""
    cx, cy = master.center
    a, hh = master.size
    scale = rng.uniform(*p.contact_scale)
    ccx = cx + rng.uniform(-1, 1) * p.contact_offset * 0.6
    ccy = cy - 0.12 * hh + rng.uniform(-1, 1) * p.contact_offset
    ea, eb = scale * a * rng.uniform(0.82, 0.95), scale * hh * rng.uniform(0.9, 1.05)
    ed = np.sqrt(((mx - ccx) / ea) ** 2 + ((my - ccy) / eb) ** 2)
    ed += 0.05 * smooth_noise(rng, mx.shape, 45.0)              # irregular border
    return ccx, ccy, ed


def _distort(rng: np.random.Generator, p: ImpressionParams, mx, my, ccx: float, ccy: float):
    """Elastic skin distortion: the close contact moves rigidly, the skin around it is pushed and turned,
    braking smoothly across the transition band; plus a small random warp."""
    k = p.distortion
    r0 = rng.uniform(*p.inner_radius)
    band = rng.uniform(*p.transition)
    push = rng.uniform(0, p.max_skin_shift) * k
    pang = rng.uniform(0, 2 * np.pi)
    psi = np.deg2rad(rng.uniform(-p.max_skin_rotation, p.max_skin_rotation) * k)
    dist = np.sqrt((mx - ccx) ** 2 + (my - ccy) ** 2)
    brake = _smoothstep((dist - r0) / band)
    cps, sps = np.cos(psi) - 1.0, np.sin(psi)
    dx = cps * (mx - ccx) - sps * (my - ccy) + push * np.cos(pang)
    dy = sps * (mx - ccx) + cps * (my - ccy) + push * np.sin(pang)
    wx = p.random_warp * k * smooth_noise(rng, mx.shape, 70.0)
    wy = p.random_warp * k * smooth_noise(rng, mx.shape, 70.0)
    return mx + brake * dx + wx, my + brake * dy + wy


def _ink(rng: np.random.Generator, p: ImpressionParams, ridges, ed, contact):
    """Pressure and moisture -> ridge thickness and breaks, pores and ridge-top texture, within the contact:
    (ink 0..1, pressure, dryness)."""
    shape = ridges.shape
    pressure = rng.uniform(*p.pressure)
    pr = pressure + p.pressure_variation * smooth_noise(rng, shape, 90.0)
    pr += 0.15 * (1.0 - np.clip(ed, 0, 1.2))   # pressed harder in the middle of the contact
    pr -= 0.15
    ink = _smoothstep((ridges + pr + 0.4) / 0.8)
    dryness = rng.uniform(*p.dryness)
    if dryness > 0:
        local = np.clip(dryness * (1.0 + 0.8 * smooth_noise(rng, shape, 80.0)), 0, 1)
        grain = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 1.0)
        grain /= grain.std() + 1e-6
        # breaks where the fine grain is low: the share of broken ridge pixels ~ local dryness
        thr = -1.2 + 2.0 * local
        ink *= _smoothstep((grain - thr) / 0.6 + 0.5)
    # pores and texture of the ridge tops
    tex = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 0.8)
    ink *= np.clip(1.0 + 0.6 * tex, 0.5, 1.1)
    ink *= contact
    return ink, pressure, dryness


def _wet(rng: np.random.Generator, p: ImpressionParams, ink, contact, yy, xx):
    """Moisture between the ridges: ink spread across the valleys (lower ridge/valley contrast, neighbouring
    ridges merged where it is wettest) and saturated sweat drops. No draw from `rng` when wetness is off, so
    a nominal impression is the same image it always was."""
    if p.wetness[1] <= 0 and p.wet_blobs[1] <= 0:
        return ink
    shape = ink.shape
    wet = rng.uniform(*p.wetness)
    local = np.clip(wet * (1.0 + 0.7 * smooth_noise(rng, shape, 70.0)), 0.0, 1.0)
    # the moisture a valley pixel holds comes from the ridges beside it: the ink spread laterally,
    # normalised so a valley between two inked ridges fills completely at local wetness 1
    spread = ndimage.gaussian_filter(ink, p.wet_spread)
    reach = np.clip(spread / max(float(np.percentile(spread[contact > 0.5], 75)) if (contact > 0.5).any() else 1.0,
                                 1e-3), 0.0, 1.0)
    out = ink + (1.0 - ink) * local * reach
    for _ in range(int(rng.integers(p.wet_blobs[0], p.wet_blobs[1] + 1))):
        inside = np.flatnonzero(contact.ravel() > 0.8)
        if not len(inside):
            break
        cy, cx = divmod(int(inside[rng.integers(len(inside))]), shape[1])
        rad = rng.uniform(*p.wet_blob_radius)
        d = np.sqrt(((yy - cy) / rad) ** 2 + ((xx - cx) / (rad * rng.uniform(0.6, 1.4))) ** 2)
        out = np.maximum(out, 0.95 * _smoothstep((1.15 - d) / 0.3))
    return (out * contact).astype(np.float32)


def _grey_levels(rng: np.random.Generator, p: ImpressionParams, ink, yy, xx) -> np.ndarray:
    """Background, contrast, dust spots, blur and sensor noise: the uint8 image."""
    h, w = ink.shape
    bg = rng.uniform(*p.background) + 6.0 * smooth_noise(rng, (h, w), 150.0)
    contrast = rng.uniform(*p.contrast)
    img = bg - contrast * ink
    n_spots = int(rng.integers(p.spots[0], p.spots[1] + 1))
    for _ in range(n_spots):
        sy, sx = rng.uniform(0, h), rng.uniform(0, w)
        rad = rng.uniform(1.5, 6.0)
        d2 = ((yy - sy) ** 2 + (xx - sx) ** 2) / rad ** 2
        img += rng.choice([-1.0, 1.0]) * rng.uniform(15, 50) * np.exp(-d2)
    img = ndimage.gaussian_filter(img, rng.uniform(*p.blur))
    img += rng.normal(0.0, rng.uniform(*p.noise), (h, w)).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def impression_with_info(master: MasterFingerprint, seed: int,
                         params: ImpressionParams | None = None) -> tuple[np.ndarray, ImpressionInfo]:
    """One impression (uint8, 2-D, 500 dpi, ridges dark) and its ground truth: placement, contact region,
    distortion, sampling of the master, ink, grey levels (one stage each, drawing from one generator in
    this order)."""
    p = params or ImpressionParams()
    rng = np.random.default_rng(np.random.SeedSequence(
        [int(seed) & (2 ** 63 - 1), int(master.seed) & (2 ** 63 - 1), 0x1A9E]))
    phi, t, affine, mx, my, yy, xx = _placement(rng, p, master)
    ccx, ccy, ed = _contact_ellipse(rng, p, master, mx, my)
    if p.distortion > 0:
        mx, my = _distort(rng, p, mx, my, ccx, ccy)
    coords = np.stack([my, mx])
    ridges = ndimage.map_coordinates(master.ridges, coords, order=1, mode="constant", cval=0.0)
    finger = ndimage.map_coordinates(master.mask.astype(np.float32), coords, order=1,
                                     mode="constant", cval=0.0)
    # contact strength: 1 inside, falling off over the border of the ellipse and finger
    contact = (_smoothstep((1.0 - ed) / 0.12) * _smoothstep((finger - 0.05) / 0.9)).astype(np.float32)
    ink, pressure, dryness = _ink(rng, p, ridges, ed, contact)
    ink = _wet(rng, p, ink, contact, yy, xx)
    out = _grey_levels(rng, p, ink, yy, xx)
    info = ImpressionInfo(affine=affine, rotation_deg=float(np.rad2deg(phi)),
                          translation=(float(t[0]), float(t[1])), map_x=mx, map_y=my,
                          contact=contact, pressure=float(pressure), dryness=float(dryness))
    return out, info


def impression(master: MasterFingerprint, seed: int, params: ImpressionParams | None = None) -> np.ndarray:
    """One impression of `master`: uint8 2-D array, 500 dpi, dark ridges on a light background.

    Deterministic for (master, seed, params).
    """
    return impression_with_info(master, seed, params)[0]
