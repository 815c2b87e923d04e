"""Small-contact bench: how the matcher scores templates with few minutiae.

Every impression's template is cut to its k minutiae nearest the centroid (a
small contact with the scanner) and compared with every full template of the
same database: other fingers are impostors, other impressions of the finger
genuine. For each k it prints how often impostors reach the calibrated
per-finger thresholds, as a multiple of the nominal rate, and how often
genuine pairs do. Natural FVC impressions with few minutiae are too rare to
show the matcher's few-minutiae behaviour; this makes it measurable
(docs/usable-fingers.md).
"""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

from pathlib import Path

import numpy as np

from . import data

KS = (4, 6, 8, 10, 12, 16, 20, 30)


def central(minutiae: np.ndarray, k: int) -> np.ndarray:
    """The k minutiae nearest the centroid, in their original order."""
    d2 = (minutiae["x"] - minutiae["x"].mean()) ** 2 + (minutiae["y"] - minutiae["y"].mean()) ** 2
    return minutiae[np.sort(np.argsort(d2, kind="stable")[:k])].copy()


def _scores(db: data.Database, k: int, extractor: str, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    from papilla.services.match import engine
    from papilla.shared.template import FingerTemplate

    temps = data.templates_for(db, extractor, progress=progress)
    packed = engine.pack([engine.prepare(t) for t in temps])
    fid = np.array([i.finger for i in db.impressions])
    imps, gens = [], []
    for j, t in enumerate(temps):
        if len(t.minutiae) < k:
            continue
        small = engine.prepare(FingerTemplate(t.width, t.height, central(t.minutiae, k), t.quality, t.dpi))
        sc = np.asarray(engine.compare_many(small, packed))
        other = np.arange(len(sc)) != j
        imps.append(sc[other & (fid != fid[j])])
        gens.append(sc[other & (fid == fid[j])])
    return np.concatenate(imps), np.concatenate(gens)


def run(data_dir: Path, ks=KS, extractor: str = "papilla", progress: bool = True) -> dict:
    from papilla.services.match import engine
    thr = engine.thresholds()
    dbs = data.discover(data_dir)
    rows = []
    for k in ks:
        pairs = [_scores(db, k, extractor, progress) for db in dbs]
        imp = np.concatenate([p[0] for p in pairs])
        gen = np.concatenate([p[1] for p in pairs])
        row = {"k": k, "impostor_pairs": int(len(imp)), "impostor_max": float(imp.max()),
               "genuine_pairs": int(len(gen)), "genuine_median": float(np.median(gen))}
        for fmr in (1e-3, 1e-4):
            t = thr.finger(fmr)
            row[f"{fmr:.0e}"] = {"threshold": t, "impostors_above": int((imp >= t).sum()),
                                 "x_nominal": float(np.mean(imp >= t) / fmr), "genuine_above": float(np.mean(gen >= t))}
        rows.append(row)
    return {"engine_version": engine.ENGINE_VERSION, "rows": rows}


def format_table(res: dict) -> str:
    lines = [f"small contacts (k central minutiae vs full templates), engine {res['engine_version']}",
             f"  {'k':>3} {'impostors':>9} {'max':>7}  {'>=1e-3 thr':>16}  {'>=1e-4 thr':>16}  "
             f"{'genuine median':>14} {'genuine >=1e-4 thr':>18}"]
    for r in res["rows"]:
        a, b = r["1e-03"], r["1e-04"]
        lines.append(f"  {r['k']:>3} {r['impostor_pairs']:>9} {r['impostor_max']:7.4f}  "
                     f"{a['impostors_above']:>5} ({a['x_nominal']:6.2f}x)  "
                     f"{b['impostors_above']:>5} ({b['x_nominal']:6.2f}x)  "
                     f"{r['genuine_median']:14.3f} {b['genuine_above']:18.2f}")
    return "\n".join(lines)
