"""Where a 1:N search loses a planted mate: the candidate index, the matcher's score, or the decision at the FPIR.

For every planted probe the shard that holds the mate reports (a) whether the index named the mate's row
among the candidates of any probe finger and (b) the mate's fused score over every probe finger (the full
matcher, as a full scan would score it). With the search's answer, each probe is then one of:

- `hit`: the mate was returned;
- `index`: the mate's fused score reaches the 1:N threshold (a full scan would have returned it), but the
  index did not name it;
- `matcher`: the mate's fused score is below even the per-comparison threshold (`identify_fmr`, 1:1
  evidence): no candidate share would find it, the matcher (or the prints) lose it;
- `decision`: the score passes the per-comparison threshold but not the 1:N threshold that the FPIR sets for
  this gallery size (`one_to_many_fmr`): a smaller gallery or a looser FPIR would return it;
- `limit`: candidate and above the threshold, yet not among the returned list (others outscored it).
"""
from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from papilla.services.match import engine
from papilla.services.match.gallery import Gallery
from papilla.services.match.index import IndexParams

from .metrics import lower_bound

CAUSES = ("hit", "index", "matcher", "decision", "limit")


def diagnose(gallery: Gallery, probe: dict, enrollment_id: str) -> tuple[bool, float] | None:
    """(the index named the mate, the mate's fused score over all probe fingers), or None when this
    partition does not hold the mate."""
    row = gallery.entries.get(enrollment_id)
    if row is None:
        return None
    nominated = gallery.candidate_rows(probe)
    named = nominated is None or any(bool(np.isin(row, rows)) for rows in nominated.values())
    at = np.array([row], np.int64)
    scores = {}
    for pos, t in probe.items():
        rows, sc = gallery.shards[pos].score_rows(t, at)
        if len(rows):
            scores[str(pos)] = float(sc[0])
    return named, float(engine.fuse(scores))


def cause(found: bool, named: bool, fused: float, one_to_one: float, one_to_many: float) -> str:
    """The first stage that lost the mate (see the module's docstring)."""
    if found:
        return "hit"
    if fused < one_to_one:
        return "matcher"
    if fused < one_to_many:
        return "decision"
    return "limit" if named else "index"


def breakdown(causes: list[str], one_to_one: float, one_to_many: float) -> dict:
    """Counts and shares of each cause, the hit rate with its one-sided 95 % lower bound, and the hit rate a
    full scan would reach (every mate the index lost is found)."""
    n = len(causes)
    counts = {c: causes.count(c) for c in CAUSES}
    hits, ceiling = counts["hit"], counts["hit"] + counts["index"]
    return {"probes": n, "counts": counts, "hit_rate": hits / max(n, 1), "hit_lower95": lower_bound(hits, n),
            "full_scan_hit_rate": ceiling / max(n, 1), "full_scan_hit_lower95": lower_bound(ceiling, n),
            "threshold_one_to_one": one_to_one, "threshold_one_to_many": one_to_many}


def format_breakdown(label: str, b: dict) -> str:
    c = b["counts"]
    return (f"{label}: hit {c['hit']}/{b['probes']} = {b['hit_rate']:.4f} (lower95 {b['hit_lower95']:.4f}); "
            f"misses: index {c['index']}, matcher {c['matcher']}, decision {c['decision']}, limit {c['limit']}; "
            f"a full scan would hit {b['full_scan_hit_rate']:.4f} (lower95 {b['full_scan_hit_lower95']:.4f}); "
            f"thresholds 1:1 {b['threshold_one_to_one']:.2f}, 1:N {b['threshold_one_to_many']:.2f}")


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def _mate_of(found: list[dict], k: int) -> bool:
    return any(x["enrollment_id"] == f"enr-{k}" for x in found)


def dedup_searches(pool, timed: list, index: IndexParams, cut: tuple[float, float], fingers: int,
                   progress: bool) -> dict:
    """Ten-finger dedup of every timed probe, timed, with where each mate was lost; `cut` = (1:1, 1:N)."""
    wall, pens, cpu, comparisons, causes = [], [], [], [], []
    for k, probe in tqdm(timed, desc=f"dedup searches at {index.penetration:g}", disable=not progress, leave=False):
        t0 = time.perf_counter()
        found, pen, c, n = pool.search(probe, cut[1], index)
        wall.append(time.perf_counter() - t0)
        comparisons.append(n)
        pens.append(pen)
        cpu.append(c)
        causes.append(cause(_mate_of(found, k), *pool.diagnose(probe, f"enr-{k}", index), *cut))
    b = breakdown(causes, *cut)
    return {"penetration_per_finger": index.penetration, "penetration": float(np.mean(pens)),
            "matcher_share": float(np.mean(comparisons)) / max(fingers, 1), "hit_rate": b["hit_rate"],
            "dedup_p50_s": _pct(wall, 50), "dedup_p95_s": _pct(wall, 95), "dedup_cpu_p50_s": _pct(cpu, 50),
            "searches": len(wall), "dedup_misses": b}


def identify_searches(pool, probes: list, index: IndexParams, cut: tuple[float, float], fingers: int,
                      progress: bool) -> dict:
    """Identification of every (mate, few-finger probe), timed, with where each mate was lost."""
    wall, cpu, comparisons, causes = [], [], [], []
    for k, probe in tqdm(probes, desc=f"identify searches at {index.few_finger_share:g}", disable=not progress,
                         leave=False):
        t0 = time.perf_counter()
        found, _, c, n = pool.search(probe, cut[1], index)
        wall.append(time.perf_counter() - t0)
        cpu.append(c)
        comparisons.append(n)
        causes.append(cause(_mate_of(found, k), *pool.diagnose(probe, f"enr-{k}", index), *cut))
    b = breakdown(causes, *cut)
    return {"identify_share_per_finger": index.few_finger_share, "identify_hit_rate": b["hit_rate"],
            "identify_p50_s": _pct(wall, 50), "identify_p95_s": _pct(wall, 95), "identify_cpu_p50_s": _pct(cpu, 50),
            "identify_matcher_share": float(np.mean(comparisons)) / max(fingers, 1), "identify_searches": len(wall),
            "identify_misses": b}
