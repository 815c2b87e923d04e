"""Impostor distinctness: how often different fingers score above the engine's per-finger thresholds.

Takes the first impression of every finger in an FVC-layout folder (or folder
of folders), compares every pair of distinct fingers (N(N-1)/2 impostor
pairs) and reports the observed false-match rate at each calibrated finger
threshold next to its nominal rate, with a 95 % upper confidence bound.
"""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

import math
from pathlib import Path

import numpy as np

from . import data

TOP = 6  # highest impostor pairs listed, with their minutiae counts (few-minutiae templates lead the tail)


def _upper_95(k: int, n: int) -> float:
    """Wilson score upper bound of a binomial rate."""
    if n == 0:
        return 1.0
    z = 1.96
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre + margin) / (1 + z * z / n)


def run(data_dir: Path, extractor: str = "papilla", progress: bool = True) -> dict:
    from tqdm import tqdm

    from papilla.services.match import engine

    prepared, names, counts = [], [], []
    for db in data.discover(data_dir):
        temps = data.templates_for(db, extractor, progress)
        firsts = {}
        for imp, t in zip(db.impressions, temps):
            if imp.finger not in firsts:
                firsts[imp.finger] = t
                names.append(f"{db.name}/{imp.path.stem}")
                counts.append(len(t.minutiae))
        prepared += [engine.prepare(t) for t in firsts.values()]
    n = len(prepared)
    scores = []
    for i in tqdm(range(n - 1), desc="impostor pairs", disable=not progress, leave=False):
        scores.append(np.asarray(engine.compare_many(prepared[i], engine.pack(prepared[i + 1:])), dtype=float))
    imp = np.concatenate(scores) if scores else np.zeros(0)
    left, right = np.triu_indices(n, 1)   # the pair order of `imp`
    thr = engine.thresholds()
    rows = {}
    for fmr in (1e-2, 1e-3, 1e-4):
        k = int((imp >= thr.finger(fmr)).sum())
        rows[f"{fmr:.0e}"] = {"threshold": thr.finger(fmr), "nominal_fmr": fmr, "impostors_above": k,
                              "observed_fmr": k / max(len(imp), 1), "upper_95": _upper_95(k, len(imp))}
    return {"engine_version": engine.ENGINE_VERSION, "fingers": n, "impostor_pairs": int(len(imp)),
            "median": float(np.median(imp)) if len(imp) else None,
            "p99": float(np.quantile(imp, 0.99)) if len(imp) else None,
            "max": float(imp.max()) if len(imp) else None, "at_thresholds": rows,
            "top": [{"score": float(imp[k]), "pair": [names[left[k]], names[right[k]]],
                     "minutiae": [counts[left[k]], counts[right[k]]]} for k in np.argsort(-imp, kind="stable")[:TOP]]}


def format_table(res: dict) -> str:
    lines = [f"impostor distinctness, engine {res['engine_version']}: {res['fingers']} fingers, "
             f"{res['impostor_pairs']:,} impostor pairs; median {res['median']:.4f}, p99 {res['p99']:.4f}, "
             f"max {res['max']:.4f}",
             "  nominal FMR  threshold  above  observed FMR  95% upper  x nominal"]
    for row in res["at_thresholds"].values():
        lines.append(f"  {row['nominal_fmr']:>11.0e}  {row['threshold']:9.4f}  {row['impostors_above']:5d}"
                     f"  {row['observed_fmr']:12.2e}  {row['upper_95']:9.2e}  {row['observed_fmr'] / row['nominal_fmr']:9.2f}")
    if res.get("top"):
        lines.append("  highest impostor pairs (minutiae): " + ", ".join(
            f"{t['score']:.3f} {t['pair'][0]} ({t['minutiae'][0]}) x {t['pair'][1]} ({t['minutiae'][1]})"
            for t in res["top"]))
    return "\n".join(lines)
