"""`papilla bench identify --curve`: the candidate index's hit rate against penetration among distinct real
people only (no perturbed background), per strategy, with one-sided 95 % Clopper-Pearson lower bounds."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from papilla.services.match.gallery import POSITIONS
from papilla.services.match.index import FingerIndex, standardized

from .identify import IDENTIFY_POSITIONS, BenchParams, fvc_people, synthetic_people
from .metrics import lower_bound

CURVE = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


def index_curve(fvc_dir: Path, synth_dir: Path | None, params: BenchParams, progress: bool = True,
                rotate: int = 1) -> dict:
    """Hit rate against penetration for the index alone, among distinct real people only (no perturbed
    background): one impression of every person (FVC2002 pseudo-people and synthetic) enrolled, one index per
    finger position as in the gallery; every other impression set is a probe. With `rotate` = r > 1, impressions
    1..r are enrolled in turn (r galleries), so each person gives r x (impressions - 1) probe sets: ordered
    pairs of the same images, so not independent trials (the bound below assumes they are). Strategies at the
    same matcher cost (share q of the people, each compared on every probe finger): `finger` = each probe
    finger names its own best q share (the union goes on), `fused` = people ranked by the sum over probe
    fingers of their standardized index scores, best q share, `both` = the `fused_share` of q by the sum and the
    rest by each finger (as ten-finger probes search)."""
    people = fvc_people(fvc_dir, progress) + (synthetic_people(synth_dir, progress) if synth_dir else [])
    people = [p for p in people if len(p.gallery) == 10]
    sets = [[p.gallery, *p.probes] for p in people]   # a person's impression sets, 1 (enrolled by default) first
    probes = []
    for enrolled in range(max(1, rotate)):
        pool = [k for k, s in enumerate(sets) if len(s) > enrolled and len(s[enrolled]) == 10]
        index = {pos: FingerIndex(replace(params.index, enabled=True)) for pos in range(1, 11)}
        for row, k in enumerate(pool):
            for pos, t in sets[k][enrolled].items():
                index[pos].add(row, t)
        for row, k in enumerate(tqdm(pool, desc=f"index curve, impression {enrolled + 1} enrolled",
                                     disable=not progress, leave=False)):
            for i, probe in enumerate(sets[k]):
                if i != enrolled and len(probe) == 10:
                    scores = {pos: index[pos].scores(t, len(pool)) for pos, t in probe.items()}
                    probes.append({"person": row, "source": people[k].source, "scores": scores})
    out = {"people": len(people), "rotate": max(1, rotate), "fused_share": params.index.fused_share}
    for name in ("fvc", "synthetic", "all"):
        sel = [r for r in probes if name == "all" or r["source"].startswith(name)]
        if sel:
            share = params.index.fused_share
            out[name] = {"probes": len(sel), "tenprint": strategy_curve(sel, tuple(range(1, 11)), 1.0, share),
                         "twofinger": strategy_curve(sel, IDENTIFY_POSITIONS, len(POSITIONS) / len(IDENTIFY_POSITIONS),
                                                     share)}
    return out


def mate_ranks(probe: dict, positions: tuple[int, ...]) -> tuple[list[int], int]:
    """(per-finger ranks of the mate, rank of the mate by the fused standardized score) among the people."""
    k = probe["person"]
    finger, fused = [], 0.0
    for pos in positions:
        s = probe["scores"][pos]
        finger.append(int((s > s[k]).sum()))
        fused = fused + standardized(s)
    return finger, int((fused > fused[k]).sum())


def strategy_curve(probes: list[dict], positions: tuple[int, ...], scale: float, fused_share: float = 0.5
                   ) -> list[dict]:
    """Hit rate of each strategy at each people share q (two-finger probes get `scale` times the share), with the
    one-sided 95 % Clopper-Pearson lower bound."""
    ranks = [(*mate_ranks(p, positions), len(p["scores"][positions[0]]) - 1) for p in probes]
    rows = []
    for pen in CURVE:
        q = min(1.0, pen * scale)
        # the mate is among a gallery's best q share when fewer than that share of the impostors outscore it:
        # rank / impostors estimates that share (no rounding up to whole candidates in this small pool)
        hits = {"finger": [min(f) < q * n for f, _, n in ranks], "fused": [u < q * n for _, u, n in ranks],
                "both": [min(f) < q * n * (1 - fused_share) or u < q * n * fused_share for f, u, n in ranks]}
        rows.append({"penetration": q, **{f"{name}_hit_rate": float(np.mean(h)) for name, h in hits.items()},
                     **{f"{name}_hit_lower95": lower_bound(int(np.sum(h)), len(h)) for name, h in hits.items()}})
    return rows


def format_curve(r: dict) -> str:
    lines = [f"index hit rate among {r['people']} distinct real people (one index per finger position; impressions "
             f"1..{r.get('rotate', 1)} enrolled in turn); strategies "
             "at equal matcher cost: finger = each probe finger's own best share, fused = people by summed "
             f"standardized index scores, both = {r.get('fused_share', 0.5):g} of the share by the sum, the rest by "
             "each finger; lower95 = one-sided 95 % Clopper-Pearson bound"]
    for name in ("fvc", "synthetic", "all"):
        if name not in r:
            continue
        for kind, label in (("tenprint", "ten-finger"), ("twofinger", "two-finger (R/L index, 5x share)")):
            lines.append(f"{name}: {r[name]['probes']} probe sets, {label}")
            lines.append("  people share   finger (lower95)    fused (lower95)     both (lower95)")
            for c in r[name][kind]:
                lines.append(f"  {c['penetration']:>12g}  " + "  ".join(
                    f"{c[f'{s}_hit_rate']:.4f} ({c[f'{s}_hit_lower95']:.4f})" for s in ("finger", "fused", "both")))
    return "\n".join(lines)
