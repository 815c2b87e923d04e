"""Accuracy bench: EER, FMR100, FMR1000, ZeroFMR per database under the FVC2002 and all-pairs protocols."""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import data, metrics, protocols

PROTOCOLS = ("fvc", "all")
KEYS = ("eer", "fmr100", "fmr1000", "zero_fmr")


@dataclass
class DbScores:
    """Scores of one database for one matcher: per protocol, (genuine, impostor)."""
    name: str
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def papilla_scores(db: data.Database, extractor: str, progress: bool = True) -> DbScores:
    from papilla.services.match import engine
    from papilla.services.match.engine import mcc
    from tqdm import tqdm

    temps = data.templates_for(db, extractor, progress=progress)
    preps = [engine.prepare(t) for t in tqdm(temps, desc=f"prepare {db.name}", disable=not progress, leave=False)]
    packed = engine.pack(preps)
    out = DbScores(db.name)
    # score every unordered pair once; both protocols are subsets
    n = len(preps)
    a, b = np.triu_indices(n, 1)
    allscores = np.zeros((n, n), np.float32)
    chunk = 2000
    for s in tqdm(range(0, len(a), chunk), desc=f"match {db.name}", disable=not progress, leave=False):
        sc = mcc.compare_pairs(packed.geo, packed.cyl, packed.offsets, a[s:s + chunk].copy(), b[s:s + chunk].copy())
        allscores[a[s:s + chunk], b[s:s + chunk]] = sc
    for p in PROTOCOLS:
        g, i = protocols.pairs(db.impressions, p)
        out.scores[p] = (allscores[g[:, 0], g[:, 1]], allscores[i[:, 0], i[:, 1]])
    return out


def nbis_scores(db: data.Database, progress: bool = True) -> DbScores:
    """NBIS mindtct + bozorth3 on the same protocol (the peer)."""
    from tqdm import tqdm

    mins = [data.nbis_minutiae(i.path, db.dpi)[0]
            for i in tqdm(db.impressions, desc=f"mindtct {db.name}", disable=not progress, leave=False)]
    out = DbScores(db.name)
    cache: dict[tuple[int, int], float] = {}
    for p in PROTOCOLS:
        g, i = protocols.pairs(db.impressions, p)
        res = []
        for arr in (g, i):
            sc = np.zeros(len(arr), np.float32)
            for k, (x, y) in enumerate(tqdm(arr, desc=f"bozorth3 {db.name} {p}", disable=not progress, leave=False)):
                key = (int(x), int(y))
                if key not in cache:
                    cache[key] = float(mins[x].compare(mins[y]))
                sc[k] = cache[key]
            res.append(sc)
        out.scores[p] = (res[0], res[1])
    return out


def summarize(dbscores: list[DbScores]) -> dict:
    """The JSON shape: {"protocols": {p: {"databases": {db: rates}, "mean": rates}}}."""
    res: dict = {"protocols": {}}
    for p in PROTOCOLS:
        dbs = {d.name: metrics.rates(*d.scores[p]).as_dict() for d in dbscores}
        mean = {k: float(np.mean([v[k] for v in dbs.values()])) for k in KEYS} if dbs else {}
        res["protocols"][p] = {"databases": dbs, "mean": mean}
    return res


def format_table(summary: dict, label: str) -> str:
    lines = []
    for p in PROTOCOLS:
        block = summary["protocols"][p]
        lines.append(f"{label} - protocol {p}")
        lines.append(f"  {'database':<10} {'EER%':>7} {'FMR100%':>8} {'FMR1000%':>9} {'ZeroFMR%':>9}")
        rows = list(block["databases"].items()) + [("mean", block["mean"])]
        for name, r in rows:
            lines.append(f"  {name:<10} {100 * r['eer']:7.2f} {100 * r['fmr100']:8.2f} "
                         f"{100 * r['fmr1000']:9.2f} {100 * r['zero_fmr']:9.2f}")
    return "\n".join(lines)


def run(data_dir: Path, extractor: str = "papilla", peer: str | None = None, det: Path | None = None,
        progress: bool = True, limit_fingers: int | None = None) -> dict:
    dbs = data.discover(data_dir, limit_fingers=limit_fingers)
    ours = [papilla_scores(db, extractor, progress) for db in dbs]
    result = summarize(ours)
    result["extractor"] = extractor
    from papilla.services.match.engine import ENGINE_VERSION
    result["engine_version"] = ENGINE_VERSION
    result["extractor_version"] = data.extractor_version(extractor)
    result["extractor_code"] = data.extractor_tag(extractor)
    peers = None
    if peer == "nbis":
        peers = [nbis_scores(db, progress) for db in dbs]
        result["peer"] = {"name": "nbis (mindtct + bozorth3)", **summarize(peers)}
    if det:
        curves = {f"{d.name} papilla": d.scores["all"] for d in ours}
        if peers:
            curves.update({f"{d.name} nbis": d.scores["all"] for d in peers})
        from .det import draw_det
        draw_det(curves, det, title=f"DET, all pairs (papilla matcher {ENGINE_VERSION}, extractor {extractor})")
    return result
