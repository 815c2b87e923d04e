"""`papilla bench accuracy --synthetic PROFILE[,PROFILE...]`: the FVC metrics on synthetic sets, one per failure
mode (services/capture/synthetic/profiles.py).

Each profile's set is generated once, deterministically by seed, into the bench cache
(`PAPILLA_BENCH_CACHE/synthetic/<profile>-seed<S>/`, the images `papilla synth --profile P --seed S` writes:
each finger's master is grown once for every profile), then scored like an FVC database: every unordered
pair once, the FVC2002 and all-pairs protocols, EER, FMR100, FMR1000, ZeroFMR.
"""
from __future__ import annotations

# lazy imports: the generator's numba kernels are imported when a set has to be made (see accuracy.py)

import json
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from . import accuracy, data


def set_dir(profile: str, seed: int) -> Path:
    return data.cache_dir() / "synthetic" / f"{profile}-seed{seed}"


def ensure_sets(profiles: list[str], people: int, impressions: int, seed: int, progress: bool = True,
                limit_fingers: int | None = None) -> dict[str, Path]:
    """Each profile's folder with at least `people` x 10 fingers x `impressions` (or the first
    `limit_fingers` fingers), generating what is missing."""
    from papilla.services.capture.synthetic.database import atomic_write, write_finger  # lazy: numba kernels
    dirs = {name: set_dir(name, seed) for name in profiles}
    for name, d in dirs.items():
        d.mkdir(parents=True, exist_ok=True)
        atomic_write(d / "dpi.json", (json.dumps({"dpi": 500, d.name: 500}) + "\n").encode())
    existing = {name: {p.name for p in d.iterdir()} for name, d in dirs.items()}
    fingers = [(person, pos) for person in range(people) for pos in range(1, 11)][:limit_fingers or None]
    jobs = []
    for person, pos in fingers:
        finger = person * 10 + pos
        wanted = {str(d): (name, missing) for name, d in dirs.items()
                  if (missing := [k for k in range(1, impressions + 1) if f"{finger}_{k}.png" not in existing[name]])}
        if wanted:
            jobs.append((seed, person, pos, wanted))
    total = sum(len(m) for *_, w in jobs for _, m in w.values())
    with tqdm(total=total, desc="synthetic profiles", unit="img", disable=not progress or not jobs, leave=False) as bar:
        if data.bench_jobs() > 1 and len(jobs) > 1:
            import multiprocessing as mp  # lazy: only for parallel generation
            with mp.get_context("spawn").Pool(data.bench_jobs()) as pool:
                for n in pool.imap_unordered(write_finger, jobs):
                    bar.update(n)
        else:
            for job in jobs:
                bar.update(write_finger(job))
    return dirs


def database(folder: Path, people: int, impressions: int, limit_fingers: int | None) -> data.Database:
    """The set's images of persons 0..people-1 and impressions 1..impressions, as one FVC-layout database."""
    db = data.discover(folder)[0]
    last = min(people * 10, limit_fingers or people * 10)
    keep = [i for i in db.impressions if i.finger <= last and i.impression <= impressions]
    return replace(db, impressions=keep)


def run(profiles: list[str], people: int = 10, impressions: int = 4, seed: int = 1, extractor: str = "papilla",
        progress: bool = True, limit_fingers: int | None = None) -> dict:
    """{"profiles": {name: summary (accuracy.summarize of the one set)}, "people", "impressions", "seed",
    "genuine_pairs", "impostor_pairs"} (pair counts of the all-pairs protocol)."""
    dirs = ensure_sets(profiles, people, impressions, seed, progress, limit_fingers)
    out: dict = {"people": people, "impressions": impressions, "seed": seed, "profiles": {}}
    for name in profiles:
        db = replace(database(dirs[name], people, impressions, limit_fingers), name=name)
        scores = accuracy.papilla_scores(db, extractor, progress)
        out["profiles"][name] = accuracy.summarize([scores])
        g, i = scores.scores["all"]
        out["genuine_pairs"], out["impostor_pairs"] = len(g), len(i)
    return out


def format_table(res: dict, fvc: dict | None = None) -> str:
    """One row per profile (all-pairs protocol), with the FVC2002 mean beside them."""
    lines = [f"synthetic profiles (seed {res['seed']}, {res['people']} people x 10 fingers x {res['impressions']} "
             f"impressions; all pairs: {res.get('genuine_pairs', 0):,} genuine / {res.get('impostor_pairs', 0):,} "
             f"impostor per profile)",
             f"  {'set':<16} {'EER%':>7} {'FMR100%':>8} {'FMR1000%':>9} {'ZeroFMR%':>9}"]
    rows = [("FVC (--data) mean", fvc["protocols"]["all"]["mean"])] if fvc else []
    rows += [(name, s["protocols"]["all"]["mean"]) for name, s in res["profiles"].items()]
    for name, r in rows:
        lines.append(f"  {name:<16} {100 * r['eer']:7.2f} {100 * r['fmr100']:8.2f} {100 * r['fmr1000']:9.2f} "
                     f"{100 * r['zero_fmr']:9.2f}")
    return "\n".join(lines)
