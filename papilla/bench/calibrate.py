"""Calibration: score thresholds at target FMRs from impostor score distributions.

Writes `calibration-<ENGINE_VERSION>.json` beside the engine. Per finger: the
impostor tail P(score >= s) is taken from pooled all-pairs impostor scores; its
upper part is fitted with an exponential (log10 FMR linear in the score) so
that FMR 1e-4 is an extrapolation, not one or two observed scores. Fused:
`engine.fuse` turns each finger into -log10 p and combines them (truncated product);
its thresholds come from simulated ten-print impostors (random fingers drawn
from the pooled impostor scores, 1 to 10 fingers present).
"""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np

from . import data, protocols

FMRS = {"1e-2": 1e-2, "1e-3": 1e-3, "1e-4": 1e-4}
TAIL_FROM = 0.02  # fit the exponential tail on the top 2% of impostor scores


def impostor_tail_model(impostor: np.ndarray, n_points: int = 200) -> dict:
    s = np.sort(np.asarray(impostor, np.float64))
    n = len(s)
    surv = 1.0 - np.arange(n) / n                    # P(score >= s[k]) (ties: conservative upper)
    k0 = int(n * (1 - TAIL_FROM))
    ts, tl = s[k0:], np.log10(surv[k0:])
    if len(ts) >= 3 and np.ptp(ts) > 0:
        slope, icpt = np.polyfit(ts, tl, 1)
        slope = min(slope, -1e-6)
    else:
        slope, icpt = -50.0, 0.0
    # table: quantiles up to the tail start, then the fitted line up to the largest impostor
    qs = np.linspace(0, k0, min(n_points, k0 + 1)).astype(int)
    xs = list(s[qs])
    ys = [-math.log10(surv[q]) for q in qs]
    x_end = float(s[-1])
    if x_end > xs[-1]:
        xs.append(x_end)
        ys.append(max(ys[-1], -(icpt + slope * x_end)))
    # make strictly increasing in x, non-decreasing in y
    X, Y = [], []
    for x, y in zip(xs, ys):
        if X and x <= X[-1]:
            Y[-1] = max(Y[-1], y)
            continue
        X.append(float(x))
        Y.append(float(max(y, Y[-1] if Y else 0.0)))
    return {"scores": X, "neg_log10_fmr": Y, "tail_slope": float(-slope), "tail_fit": {
        "log10_fmr_intercept": float(icpt), "log10_fmr_slope": float(slope), "top_fraction": TAIL_FROM}}


def score_at(model: dict, target_fmr: float) -> float:
    """Smallest score whose modelled impostor tail is <= target."""
    want = -math.log10(target_fmr)
    xs, ys = np.array(model["scores"]), np.array(model["neg_log10_fmr"])
    if want <= ys[-1]:
        k = int(np.argmax(ys >= want))
        if k == 0:
            return float(xs[0])
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        return float(x0 + (want - y0) * (x1 - x0) / max(y1 - y0, 1e-12))
    return float(xs[-1] + (want - ys[-1]) / model["tail_slope"])


def simulate_fused(impostor: np.ndarray, model: dict, n: int = 100_000, seed: int = 7) -> np.ndarray:
    """Fused scores of simulated impostor ten-prints (1-10 fingers drawn from the observed impostors)."""
    from papilla.services.match.engine import combine_neg_log10_p, fuse
    rng = np.random.default_rng(seed)
    ks = rng.integers(1, 11, n)
    draws = rng.choice(impostor, size=(n, 10))
    xs, ys = np.array(model["scores"]), np.array(model["neg_log10_fmr"])
    nl = np.interp(draws, xs, ys)
    over = draws > xs[-1]
    nl[over] = ys[-1] + model["tail_slope"] * (draws[over] - xs[-1])
    out = np.array([combine_neg_log10_p(nl[r, :ks[r]].tolist()) for r in range(n)])
    # spot-check against the engine's own fuse
    for r in range(5):
        sc = {str(j): float(draws[r, j]) for j in range(ks[r])}
        assert abs(fuse(sc, model) - out[r]) < 1e-6 * max(1.0, out[r]), (fuse(sc, model), out[r])
    return out


def empirical_threshold(imp: np.ndarray, fmr: float) -> float:
    s = np.sort(imp)[::-1]
    k = int(math.floor(fmr * len(s)))
    return float(np.nextafter(s[k], np.inf)) if k < len(s) else float(s[-1])


def run(data_dir: Path, extractor: str = "papilla", out: Path | None = None, progress: bool = True) -> dict:
    from papilla.services.match import engine
    from .accuracy import papilla_scores
    from .data import extractor_version

    dbs = data.discover(data_dir)
    imps, gens = [], []
    for db in dbs:
        sc = papilla_scores(db, extractor, progress)
        g, i = sc.scores["all"]
        gens.append(g)
        imps.append(i)
    imp = np.concatenate(imps).astype(np.float64)
    gen = np.concatenate(gens).astype(np.float64)
    model = impostor_tail_model(imp)
    finger = {}
    for key, f in FMRS.items():
        modelled = score_at(model, f)
        # never below what the observed impostors require
        finger[key] = max(modelled, empirical_threshold(imp, f)) if f * len(imp) >= 10 else modelled
    fused_sim = simulate_fused(imp, model)
    fused = {}
    for key, f in FMRS.items():
        emp = empirical_threshold(fused_sim, f)
        fused[key] = float(max(emp, -math.log10(f)))  # the method's nominal value as a floor
    result = {
        "engine_version": engine.ENGINE_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "calibrated_on": (f"FVC2002 " + ", ".join(db.name for db in dbs) + f" ({data_dir}), all-pairs impostors, "
                          f"extractor {extractor}: {len(imp)} impostor / {len(gen)} genuine scores"),
        "extractor": extractor,
        "extractor_version": extractor_version(extractor),
        "finger_thresholds": finger,
        "fused_thresholds": fused,
        "fused_method": "truncated product (tau=0.01) of per-finger impostor tail p-values; thresholds from "
                        f"{len(fused_sim)} simulated impostor ten-prints with 1-10 fingers (independent fingers)",
        "impostor_tail": model,
        "observed": {
            "impostor_count": int(len(imp)), "genuine_count": int(len(gen)),
            "impostor_max": float(imp.max()), "impostor_p99": float(np.quantile(imp, 0.99)),
            "genuine_median": float(np.median(gen)),
            "fnmr_at_finger_threshold": {k: float(np.mean(gen < v)) for k, v in finger.items()},
        },
        "caveat": "320 images: FMR 1e-3 and 1e-4 per finger rest on the fitted exponential tail; "
                  "re-calibrate on a large operational impostor set before production use.",
    }
    out = out or Path(engine.__file__).parent / engine.CALIBRATION_FILE
    Path(out).write_text(json.dumps(result, indent=1) + "\n")
    engine.calibration.cache_clear()
    return result
