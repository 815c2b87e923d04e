"""Papilla fingerprint matcher: MCC cylinders + relaxation, fusion, calibrated thresholds.

Public API (the match worker depends on it):

- `ENGINE_VERSION`
- `prepare(template) -> PreparedTemplate` (`prepare_indexed` also maps its rows to the template's minutiae); `PreparedTemplate.to_bytes()` /
  `PreparedTemplate.from_bytes(b)` (refuses other engine versions)
- `compare(a, b) -> float` in [0, 1], higher = more similar (symmetric up to
  tie-breaking)
- `pack(gallery) -> PackedGallery`; `compare_many(probe, gallery) -> np.ndarray`
  (float32, one score per gallery entry; pass a `PackedGallery` for speed)
- `fuse({"R1": s1, "L2": s2, ...}) -> float`: -log10 of the combined impostor
  p-value (truncated product over the present fingers); missing fingers absent
- `thresholds() -> Thresholds`, `decide(score, fmr=1e-4, fused=False) -> bool`
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Mapping, Sequence

import numpy as np

from papilla.shared.template import FingerTemplate

from . import compact, cylinders, mcc

ENGINE_VERSION = "mcc8b-lssr-7"   # 5: scores shrink below N_FULL cylinders; 6: by (n / 18) ** 1.5, was n / 20;
#                                   7: by the minutiae paired under one transform (stage 5), (n / 12) below 12 cylinders

_MAGIC = b"PMCC"


class TemplateVersionError(ValueError):
    """A prepared template made by another engine version: re-prepare it from its FingerTemplate."""


@dataclass(frozen=True)
class PreparedTemplate:
    """The matcher's own form of one finger: valid cylinders only.

    geo: float32 (n, 5) = x, y (math frame: y up), theta, cos(theta), sin(theta)
    (bytes hold x, y, theta; cos and sin are derived on load)
    cyl: uint64 (n, ND + 1) = ND direction slices then the cell-validity word
    """

    geo: np.ndarray
    cyl: np.ndarray
    version: str = ENGINE_VERSION

    def __len__(self) -> int:
        return int(self.geo.shape[0])

    def to_bytes(self) -> bytes:
        v = self.version.encode()
        head = _MAGIC + struct.pack("<B", len(v)) + v + struct.pack("<HH", len(self), mcc.ND)
        return (head + np.ascontiguousarray(self.geo[:, :3], "<f4").tobytes()
                + np.ascontiguousarray(self.cyl, "<u8").tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "PreparedTemplate":
        data = bytes(data)
        if data[:4] != _MAGIC:
            raise ValueError("not a Papilla prepared template (bad magic)")
        lv = data[4]
        version = data[5:5 + lv].decode(errors="replace")
        if version != ENGINE_VERSION:
            raise TemplateVersionError(
                f"prepared template is from matcher engine {version!r}, this engine is {ENGINE_VERSION!r}: "
                "prepare it again from its FingerTemplate")
        off = 5 + lv
        n, nd = struct.unpack_from("<HH", data, off)
        off += 4
        if nd != mcc.ND:
            raise ValueError(f"prepared template has {nd} direction slices, expected {mcc.ND}")
        need = off + n * 12 + n * (nd + 1) * 8
        if len(data) != need:
            raise ValueError(f"prepared template truncated or padded: {len(data)} bytes, expected {need}")
        geo3 = np.frombuffer(data, "<f4", n * 3, off).reshape(n, 3)
        cyl = np.frombuffer(data, "<u8", n * (nd + 1), off + n * 12).reshape(n, nd + 1).astype(np.uint64)
        geo = _geo(geo3[:, 0], geo3[:, 1], geo3[:, 2])
        return cls(geo=geo, cyl=cyl, version=version)


def _geo(xs, ys, th) -> np.ndarray:
    """Geometry rows (x, y, theta, cos, sin) on the gallery's storage grid (`compact.quantize_geometry`), so a
    template scores the same 1:1 and from a compact 1:N shard block."""
    qx, qy, qt = compact.quantize_geometry(np.asarray(xs, np.float64), np.asarray(ys, np.float64),
                                       np.asarray(th, np.float64))
    return compact.geometry_rows(qx, qy, qt)


def geometry(xs, ys, th) -> np.ndarray:
    """float32 (n, 5) geometry rows of a prepared template from x, y (math frame) and theta (radians)."""
    return _geo(xs, ys, th)


def prepare_indexed(template: FingerTemplate) -> tuple[PreparedTemplate, np.ndarray]:
    """`prepare(template)` and, for each of its rows, the index of the minutia in `template.minutiae` it
    was made from (explanations map the matcher's pairs back to the template)."""
    m = template.minutiae
    rows = np.arange(len(m))
    if len(m) > mcc.MAX_MINUTIAE:
        rows = np.sort(np.argsort(-m["quality"].astype(np.int32), kind="stable")[: mcc.MAX_MINUTIAE])
        m = m[rows]
    xs = m["x"].astype(np.float64)
    ys = -m["y"].astype(np.float64)          # math frame: y up
    th = np.mod(m["angle"].astype(np.float64), 2 * math.pi)
    bits, mask, valid = cylinders.build_cylinders(xs, ys, th)
    order = np.argsort(th[valid], kind="stable")  # sorted by direction: compare() scans runs
    idx = np.flatnonzero(valid)[order]
    n = len(idx)
    geo = _geo(xs[idx], ys[idx], th[idx])
    cyl = np.empty((n, mcc.ND + 1), np.uint64)
    cyl[:, : mcc.ND] = bits[idx]
    cyl[:, mcc.ND] = mask[idx]
    return PreparedTemplate(geo=geo, cyl=cyl), rows[idx]


def prepare(template: FingerTemplate) -> PreparedTemplate:
    return prepare_indexed(template)[0]


def _check(t: PreparedTemplate) -> None:
    if t.version != ENGINE_VERSION:
        raise TemplateVersionError(f"prepared template from engine {t.version!r}, this is {ENGINE_VERSION!r}")


def compare(a: PreparedTemplate, b: PreparedTemplate) -> float:
    if len(a) < 2 or len(b) < 2:
        return 0.0
    return float(mcc.compare_one(a.geo, a.cyl, b.geo, b.cyl))


@dataclass(frozen=True)
class PackedGallery:
    """Gallery templates concatenated for one-call 1:N scans."""

    geo: np.ndarray
    cyl: np.ndarray
    offsets: np.ndarray  # int64 (N + 1,)

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)


def pack(gallery: Sequence[PreparedTemplate]) -> PackedGallery:
    sizes = np.array([len(t) for t in gallery], np.int64)
    offsets = np.zeros(len(gallery) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    for t in gallery:
        _check(t)
    geo = np.concatenate([t.geo for t in gallery]) if len(gallery) else np.zeros((0, 5), np.float32)
    cyl = np.concatenate([t.cyl for t in gallery]) if len(gallery) else np.zeros((0, mcc.ND + 1), np.uint64)
    return PackedGallery(np.ascontiguousarray(geo), np.ascontiguousarray(cyl), offsets)


def compare_many(probe: PreparedTemplate, gallery: Sequence[PreparedTemplate] | PackedGallery) -> np.ndarray:
    packed = gallery if isinstance(gallery, PackedGallery) else pack(gallery)
    if len(packed) == 0:
        return np.zeros(0, np.float32)
    if len(probe) < 2:
        return np.zeros(len(packed), np.float32)
    return mcc.compare_to_gallery(probe.geo, probe.cyl, packed.geo, packed.cyl, packed.offsets)


# --- calibration, fusion, decisions -------------------------------------------------

@dataclass(frozen=True)
class Thresholds:
    """Score thresholds at target false-match rates, from the calibration JSON of ENGINE_VERSION."""

    engine_version: str
    finger_fmr_1e2: float
    finger_fmr_1e3: float
    finger_fmr_1e4: float
    fused_fmr_1e2: float
    fused_fmr_1e3: float
    fused_fmr_1e4: float
    calibrated_on: str

    def finger(self, fmr: float) -> float:
        """Per-finger score threshold at any `fmr` in (0, 1e-2]: interpolated in log10(FMR) between the
        calibrated points; below 1e-4, the calibration's fitted impostor tail, inverted."""
        check_fmr(fmr)
        if fmr < MIN_CALIBRATED_FMR:
            return max(self.finger_fmr_1e4, finger_score_at(-math.log10(fmr)))
        return _interpolate_log(fmr, (self.finger_fmr_1e2, self.finger_fmr_1e3, self.finger_fmr_1e4))

    def fused(self, fmr: float) -> float:
        """Fused threshold at any `fmr` in (0, 1e-2]: interpolated in log10(FMR) between the calibrated
        points; below 1e-4 (1:N against large galleries) the fused score is itself -log10 of the
        false-match probability, so the threshold is -log10(fmr) plus the margin calibration found at 1e-4
        (continuous at 1e-4)."""
        check_fmr(fmr)
        if fmr < MIN_CALIBRATED_FMR:
            return -math.log10(fmr) + max(0.0, self.fused_fmr_1e4 - 4.0)
        return _interpolate_log(fmr, (self.fused_fmr_1e2, self.fused_fmr_1e3, self.fused_fmr_1e4))


#: Calibrated operating points; thresholds between them are interpolated in log10(FMR).
CALIBRATED_FMRS = (1e-2, 1e-3, 1e-4)
MAX_FMR, MIN_CALIBRATED_FMR = CALIBRATED_FMRS[0], CALIBRATED_FMRS[-1]


class FmrOutOfRange(ValueError):
    """A false-match rate the engine has no threshold for (configuration error)."""


def check_fmr(fmr: float, name: str = "FMR") -> float:
    """`fmr` if the engine can set a threshold for it, else FmrOutOfRange naming `name` and the range."""
    if not isinstance(fmr, (int, float)) or math.isnan(fmr) or not 0 < fmr <= MAX_FMR * (1 + 1e-9):
        raise FmrOutOfRange(f"{name} must be a false-match rate above 0 and at most {MAX_FMR:g} "
                            f"(calibrated from {MIN_CALIBRATED_FMR:g} to {MAX_FMR:g}, extrapolated below), got {fmr!r}")
    return fmr


def _interpolate_log(fmr: float, values: Sequence[float]) -> float:
    """Linear in log10(FMR) through (CALIBRATED_FMRS[i], values[i]); fmr within [1e-4, 1e-2]."""
    xs = [-math.log10(f) for f in CALIBRATED_FMRS]           # 2, 3, 4: increasing
    return float(np.interp(min(max(-math.log10(fmr), xs[0]), xs[-1]), xs, values))


def finger_score_at(neg_log10_fmr: float, model: Mapping | None = None) -> float:
    """Inverse of `finger_log_fmr`: the lowest score whose impostor tail probability is 10**-neg_log10_fmr."""
    model = model or calibration()["impostor_tail"]
    xs, ys = model["scores"], model["neg_log10_fmr"]
    if neg_log10_fmr <= ys[-1]:
        return float(np.interp(neg_log10_fmr, ys, xs))
    return float(xs[-1] + (neg_log10_fmr - ys[-1]) / model["tail_slope"])


CALIBRATION_FILE = f"calibration-{ENGINE_VERSION}.json"


@lru_cache(maxsize=1)
def calibration() -> dict:
    path = resources.files(__name__).joinpath(CALIBRATION_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"no calibration for engine {ENGINE_VERSION}: {CALIBRATION_FILE} missing "
                                "(run `papilla bench calibrate`)")
    data = json.loads(path.read_text())
    if data.get("engine_version") != ENGINE_VERSION:
        raise ValueError(f"{CALIBRATION_FILE} is for engine {data.get('engine_version')!r}, not {ENGINE_VERSION!r}")
    return data


def thresholds() -> Thresholds:
    c = calibration()
    f, u = c["finger_thresholds"], c["fused_thresholds"]
    return Thresholds(
        engine_version=ENGINE_VERSION,
        finger_fmr_1e2=f["1e-2"], finger_fmr_1e3=f["1e-3"], finger_fmr_1e4=f["1e-4"],
        fused_fmr_1e2=u["1e-2"], fused_fmr_1e3=u["1e-3"], fused_fmr_1e4=u["1e-4"],
        calibrated_on=c.get("calibrated_on", ""),
    )


def finger_log_fmr(score: float, model: Mapping | None = None) -> float:
    """-log10 of the impostor tail probability P(impostor score >= score) for one finger."""
    model = model or calibration()["impostor_tail"]
    xs = model["scores"]
    ys = model["neg_log10_fmr"]
    if score <= xs[0]:
        return float(ys[0])
    if score <= xs[-1]:
        return float(np.interp(score, xs, ys))
    # beyond the observed impostors: the fitted exponential tail
    return float(ys[-1] + model["tail_slope"] * (score - xs[-1]))


def finger_log_fmr_array(scores: np.ndarray, model: Mapping | None = None) -> np.ndarray:
    """`finger_log_fmr` over an array of scores (same model, same tail)."""
    model = model or calibration()["impostor_tail"]
    xs, ys = np.asarray(model["scores"]), np.asarray(model["neg_log10_fmr"])
    scores = np.asarray(scores, dtype=np.float64)
    out = np.interp(scores, xs, ys)
    over = scores > xs[-1]
    out[over] = ys[-1] + model["tail_slope"] * (scores[over] - xs[-1])
    return out


#: Fingers whose impostor tail probability is above this carry no evidence in the fused score.
FUSION_TRUNCATION = 0.01


def fuse(scores: Mapping[str, float], model: Mapping | None = None) -> float:
    """Fused evidence of several fingers: -log10 of the combined impostor p-value.

    Each finger score becomes its impostor tail probability p_i (calibration), and
    the p-values are combined with the truncated product method (Zaykin et al.,
    Genet. Epidemiol. 2002): only fingers with p_i <= FUSION_TRUNCATION count, and
    the result is the exact probability, under independent impostor fingers, of a
    product that small. It is on the same scale whatever the number of fingers (a
    fused score of 4 ~ FMR 1e-4). Unlike Fisher's method, many fingers that are each
    only mildly similar (as happens when a population or sensor differs from the
    calibration set) do not add up to a false match. Missing fingers are simply
    absent; no finger -> 0.
    """
    vals = [float(s) for s in scores.values() if s is not None and not math.isnan(float(s))]
    return combine_neg_log10_p([finger_log_fmr(s, model) for s in vals])


def combine_neg_log10_p(neg_log10_ps: Sequence[float], tau: float = FUSION_TRUNCATION) -> float:
    """-log10 P(W <= w) for the truncated product W of L independent uniform p-values."""
    L = len(neg_log10_ps)
    ln10 = math.log(10.0)
    kept = [-v * ln10 for v in neg_log10_ps if v >= -math.log10(tau)]
    if not kept:
        return 0.0
    ln_w, ln_tau = sum(kept), math.log(tau)
    terms = []
    for k in range(1, L + 1):
        ln_comb = math.lgamma(L + 1) - math.lgamma(k + 1) - math.lgamma(L - k + 1) + (L - k) * math.log1p(-tau)
        if ln_w <= k * ln_tau:
            x = k * ln_tau - ln_w
            inner = [i * math.log(x) - math.lgamma(i + 1) if x > 0 else (0.0 if i == 0 else -math.inf)
                     for i in range(k)]
            mx = max(inner)
            ln_h = ln_w + mx + math.log(sum(math.exp(t - mx) for t in inner))
        else:
            ln_h = k * ln_tau
        terms.append(ln_comb + ln_h)
    mx = max(terms)
    return max(0.0, -(mx + math.log(sum(math.exp(t - mx) for t in terms))) / ln10)


def decide(score: float, fmr: float = 1e-4, fused: bool = False) -> bool:
    """True = match: `score` (a compare() score, or a fuse() score with fused=True) reaches the threshold."""
    t = thresholds()
    return score >= (t.fused(fmr) if fused else t.finger(fmr))


__all__ = [
    "ENGINE_VERSION", "PreparedTemplate", "PackedGallery", "Thresholds", "TemplateVersionError",
    "prepare", "prepare_indexed", "compare", "compare_many", "pack", "fuse", "thresholds", "decide", "calibration",
    "finger_log_fmr", "check_fmr", "FmrOutOfRange", "finger_score_at",
]
