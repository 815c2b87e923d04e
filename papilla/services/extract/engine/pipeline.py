"""The extraction pipeline: stages glued together, intermediates kept."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate, empty_minutiae

from .enhancement import enhance
from .filtering import filter_minutiae
from .filters import border_distance
from .frequency import block_periods, period_field
from .minutiae import detect, directions, trace_all
from .orientation import orientation_field_full
from .params import ExtractionParams
from .quality import finger_quality, local_quality
from .resolution import normalize_resolution
from .segmentation import segment
from .thinning import binarize, thin

#: Version of the extraction's output, stored with every template (FingerTemplate.extractor) and in the
#: matcher's calibration: bump it with any change that moves a minutia, then recalibrate
#: (`papilla bench calibrate`) and re-record accuracy (`papilla bench accuracy --record`).
EXTRACTOR_VERSION = "papilla-x4"

MIN_WORK_SIDE = 32      # below this (at 500 dpi) there is nothing to extract
MAX_INPUT_SIDE = 4000   # guard against absurd arrays (decode_image limits to 1000)


@dataclass
class Intermediates:
    """Everything computed on the way (all arrays at 500 dpi, image coordinates).

    orientation: ridge direction in radians [0, pi), image coordinates (y down).
    period: ridge period in px; `frequency` is its inverse (0 outside the mask).
    period_blocks: the period per frequency block before filling (0 = no valid estimate).
    enhanced: contextual-filter output, positive on ridges.
    raw_minutiae / minutiae: MINUTIA_DTYPE before / after false-minutia removal.
    removed_by: per raw minutia, the code of the filtering rule that removed it (`filtering.RULES`; 0 kept).
    """
    image: np.ndarray
    mask: np.ndarray
    orientation: np.ndarray
    coherence: np.ndarray
    period: np.ndarray
    enhanced: np.ndarray
    binary: np.ndarray
    skeleton: np.ndarray
    quality_map: np.ndarray
    period_blocks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    raw_minutiae: np.ndarray = field(default_factory=empty_minutiae)
    removed_by: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    minutiae: np.ndarray = field(default_factory=empty_minutiae)
    quality: int = 0

    @property
    def frequency(self) -> np.ndarray:
        return np.where(self.mask, 1.0 / np.maximum(self.period, 1e-3), 0.0).astype(np.float32)


def _as_uint8(pixels) -> np.ndarray:
    arr = np.asarray(pixels)
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        arr = arr[..., :3].mean(axis=2) if arr.shape[2] >= 3 else arr[..., 0]
    if arr.ndim != 2:
        raise ValueError("pixels must be a 2-D grayscale array")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    a = arr.astype(np.float64)
    if not np.isfinite(a).all():
        a = np.nan_to_num(a, nan=255.0, posinf=255.0, neginf=0.0)
    if arr.dtype == np.uint16 or a.max(initial=0) > 255:
        a = a * (255.0 / max(a.max(), 1.0))
    elif np.issubdtype(arr.dtype, np.floating) and a.max(initial=0) <= 1.0:
        a = a * 255.0
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _empty(img: np.ndarray, mask: np.ndarray | None = None) -> tuple[FingerTemplate, Intermediates]:
    h, w = img.shape
    z = np.zeros((h, w), dtype=np.float32)
    zb = np.zeros((h, w), dtype=bool)
    inter = Intermediates(image=img, mask=zb if mask is None else mask, orientation=z, coherence=z,
                          period=z, enhanced=z, binary=zb, skeleton=zb, quality_map=z)
    return FingerTemplate(width=w, height=h, minutiae=empty_minutiae(), quality=0, dpi=500,
                          extractor=EXTRACTOR_VERSION), inter


def extract_with_intermediates(pixels: np.ndarray, dpi: int = 500,
                               params: ExtractionParams | None = None) -> tuple[FingerTemplate, Intermediates]:
    """Extract minutiae from an 8-bit grayscale image at `dpi` and keep every stage."""
    p = params or ExtractionParams()
    arr = _as_uint8(pixels)
    if max(arr.shape) > MAX_INPUT_SIDE:
        raise ValueError(f"image {arr.shape[1]}x{arr.shape[0]} larger than {MAX_INPUT_SIDE} px")
    img = normalize_resolution(arr, int(dpi), p.resolution)
    h, w = img.shape
    if h < MIN_WORK_SIDE or w < MIN_WORK_SIDE:
        return _empty(img)
    theta, coh, _, _ = orientation_field_full(img, None, p.orientation)
    mask = segment(img, p.segmentation, coherence=coh)
    if mask.sum() < 64 * 64 / 4:
        return _empty(img, mask)
    period_blocks = block_periods(img, theta, mask, p.frequency)
    period = period_field(period_blocks, img.shape, p.frequency)
    enh = enhance(img, theta, period, mask, p.enhancement, p.frequency.min_period, p.frequency.max_period)
    binary = binarize(enh, mask, p.binarization)
    skel = thin(binary)
    qmap = local_quality(coh, enh, mask, p.quality)

    ys, xs, kinds = detect(skel, mask)
    f = p.filtering
    maxlen = max(f.spur_length, f.short_ridge_length, f.bridge_length, p.minutiae.direction_trace) + 2
    nbranch, reason, length, hit, vx, vy = trace_all(skel, ys, xs, maxlen, p.minutiae.direction_trace)
    ang, valid = directions(kinds, nbranch, vx, vy)
    if p.minutiae.use_orientation_field and len(ang):
        th = theta[ys, xs].astype(np.float64)
        cand = np.where(np.abs(np.angle(np.exp(1j * (th - ang)))) <= np.pi / 2, th, th + np.pi)
        snap = np.abs(np.angle(np.exp(1j * (cand - ang)))) <= np.deg2rad(p.minutiae.snap_max_deg)
        ang = np.where(snap, cand, ang)
    mdist = border_distance(mask, ys, xs, float(2.0 * f.border_distance + 1.0))
    bfac = np.clip(mdist / max(2.0 * f.border_distance, 1.0), 0.3, 1.0)
    mq = np.clip(np.rint(100.0 * qmap[ys, xs] * bfac), 0, 100).astype(np.int64) if len(ys) else np.zeros(0, np.int64)
    keep, removed_by = filter_minutiae(xs, ys, kinds, ang, valid, mq, mdist, (nbranch, reason, length, hit), f)

    raw = np.zeros(len(xs), dtype=MINUTIA_DTYPE)
    raw["x"] = xs
    raw["y"] = ys
    raw["angle"] = np.mod(-ang, 2 * np.pi)   # image (y down) -> ISO (counter-clockwise on screen)
    raw["kind"] = kinds
    raw["quality"] = mq
    raw["angle"][raw["angle"] >= np.float32(2 * np.pi)] = 0.0
    minutiae = raw[keep].copy()
    fq = finger_quality(img, mask, coh, qmap, len(minutiae), p.quality)
    inter = Intermediates(image=img, mask=mask, orientation=theta, coherence=coh, period=period,
                          enhanced=enh, binary=binary, skeleton=skel, quality_map=qmap,
                          period_blocks=period_blocks, raw_minutiae=raw, removed_by=removed_by, minutiae=minutiae,
                          quality=fq)
    return FingerTemplate(width=w, height=h, minutiae=minutiae, quality=fq, dpi=500, extractor=EXTRACTOR_VERSION), inter


def extract(pixels: np.ndarray, dpi: int = 500, params: ExtractionParams | None = None) -> FingerTemplate:
    """Extract a 500-dpi `FingerTemplate` from an 8-bit grayscale image at `dpi`."""
    return extract_with_intermediates(pixels, dpi, params)[0]


def warm_up() -> None:
    """Compile (or load from cache) the numba kernels so first real call is fast."""
    yy, xx = np.mgrid[0:160, 0:160]
    img = (127 + 100 * np.sin(2 * np.pi * (xx + 0.3 * yy + 0.002 * (xx - 80) ** 2) / 9.0)).astype(np.uint8)
    extract(img, 500)
