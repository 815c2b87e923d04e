"""`papilla bench identify`: 1:N at scale with the candidate index, hit rate on planted real mates.

Galleries:
- *Mates* are real: FVC2002 pseudo-people (fingers 1..10 of one database as one
  person's ten fingers; impression 1 enrolled, impressions 2..8 as probes) and
  synthetic people from `papilla synth` (impression 1 enrolled, 2 probed).
- *Background* people for timing are made by perturbing prepared templates of
  the other half of the synthetic people (never the mates' own fingers): a
  random rigid transform of the minutia geometry (cylinders are invariant to
  it), dropout of cylinders and random flips of valid cell bits. The output
  says so. They load the matcher and the index as real templates would, but
  their similarity structure is not a population's.

Figures: bytes per finger, build / load time, penetration and hit rate (per
finger and for ten-finger probes with the union of per-finger candidates),
dedup and identify latency percentiles, with the index on or off, and where
each planted mate was lost (`identify_misses`: index, matcher, decision at the
FPIR). Two-finger identify runs every planted probe set's index fingers.
"""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

import resource
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from papilla.services.match import engine
from papilla.services.match.engine import PreparedTemplate, mcc
from papilla.services.match.gallery import Gallery, GalleryParams
from papilla.services.match.index import IndexParams
from papilla.services.match.matching import one_to_many_fmr

from . import data, identify_misses

IDENTIFY_POSITIONS = (2, 7)   # right and left index fingers


@dataclass(frozen=True)
class BenchParams:
    people: int = 10_000
    probes: int = 30                 # ten-finger searches timed
    index: IndexParams = IndexParams()
    shards: int = 1                  # worker processes holding one partition each
    dropout: float = 0.1             # background perturbation: share of cylinders dropped
    flip: float = 0.03               # share of valid cell bits flipped
    dedup_fmr: float = 1e-3          # PAPILLA_DEDUP_FMR / _FPIR defaults
    dedup_fpir: float = 1e-2
    identify_fmr: float = 1e-4
    identify_fpir: float = 1e-2
    seed: int = 12
    also_penetrations: tuple[float, ...] = ()   # the same searches again at these per-finger penetrations
    also_identify_shares: tuple[float, ...] = ()  # the two-finger searches again at these per-finger shares


@dataclass
class Person:
    gallery: dict[int, PreparedTemplate]
    probes: list[dict[int, PreparedTemplate]]
    source: str


def fvc_people(fvc_dir: Path, progress: bool) -> list[Person]:
    """Each FVC2002 database as one pseudo-person: its 10 fingers at positions 1..10."""
    people = []
    for db in data.discover(fvc_dir):
        temps = data.templates_for(db, progress=progress)
        by = {(i.finger, i.impression): engine.prepare(t) for i, t in zip(db.impressions, temps)}
        fingers = sorted({f for f, _ in by})[:10]
        imps = sorted({k for _, k in by})
        people.append(Person({p + 1: by[(f, imps[0])] for p, f in enumerate(fingers)},
                             [{p + 1: by[(f, k)] for p, f in enumerate(fingers)} for k in imps[1:]], f"fvc-{db.name}"))
    return people


def synthetic_people(synth_dir: Path, progress: bool) -> list[Person]:
    """People from `papilla synth` (finger = person * 10 + position); impression 1 enrolled, the rest probed."""
    people: dict[int, Person] = {}
    for db in data.discover(synth_dir):
        temps = data.templates_for(db, progress=progress)
        by = {(i.finger, i.impression): engine.prepare(t) for i, t in zip(db.impressions, temps)}
        for (finger, k), t in by.items():
            person, position = divmod(finger, 10)
            if position == 0:
                person, position = person - 1, 10
            entry = people.setdefault(person, Person({}, [], "synthetic"))
            if k == 1:
                entry.gallery[position] = t
            else:
                while len(entry.probes) < k - 1:
                    entry.probes.append({})
                entry.probes[k - 2][position] = t
    return [people[k] for k in sorted(people)]


def perturb(t: PreparedTemplate, rng: np.random.Generator, dropout: float, flip: float) -> PreparedTemplate:
    """A different-looking copy of a prepared template (for timing galleries only)."""
    keep = np.flatnonzero(rng.random(len(t)) >= dropout)
    if len(keep) < 2:
        keep = np.arange(len(t))
    a = rng.uniform(-0.5, 0.5)
    c, s = np.cos(a), np.sin(a)
    x, y = t.geo[keep, 0], t.geo[keep, 1]
    th = np.mod(t.geo[keep, 2] + a, 2 * np.pi)
    order = np.argsort(th, kind="stable")
    geo = engine.geometry((c * x - s * y + rng.uniform(-40, 40))[order], (s * x + c * y + rng.uniform(-40, 40))[order],
                          th[order])
    cyl = t.cyl[keep][order].copy()
    bits = np.unpackbits(cyl[:, :mcc.ND].view(np.uint8), axis=1, bitorder="little")
    valid = np.unpackbits(cyl[:, mcc.ND:].view(np.uint8), axis=1, bitorder="little")
    bits ^= ((rng.random(bits.shape) < flip) & np.tile(valid, mcc.ND).astype(bool)).astype(np.uint8)
    cyl[:, :mcc.ND] = np.packbits(bits, axis=1, bitorder="little").view(np.uint64)
    return PreparedTemplate(geo=geo, cyl=cyl)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def build(params: BenchParams, mates: list[Person], sources: list[dict[int, PreparedTemplate]],
          part: tuple[int, int] = (0, 1), progress: bool = True) -> tuple[Gallery, dict]:
    """A gallery of `params.people` people: the mates (rows 0..) then perturbed background people.
    Person k belongs to partition k % parts."""
    gallery = Gallery(None, GalleryParams(index=params.index, partition=part))
    rng = np.random.default_rng([params.seed, part[0]])
    k_part, parts = part
    rss0, t0 = _rss_bytes(), time.perf_counter()
    for k in tqdm(range(params.people), desc=f"gallery part {k_part + 1}/{parts}", disable=not progress,
                  leave=False, mininterval=2):
        if k % parts != k_part:
            continue
        if k < len(mates):
            fingers = mates[k].gallery
        else:
            fingers = {p: perturb(sources[rng.integers(len(sources))][p], rng, params.dropout, params.flip)
                       for p in range(1, 11)}
        gallery.add(f"enr-{k}", f"sub-{k}", fingers)
    fingers = sum(s.count for s in gallery.shards.values())
    return gallery, {"build_s": time.perf_counter() - t0, "fingers": fingers,
                     "array_bytes": gallery.nbytes(), "memory": gallery.memory(), "rss_bytes": _rss_bytes() - rss0}


def _worker(conn, params: BenchParams, mates, sources, part) -> None:
    """One shard process: build its partition, then answer (probe, threshold) searches until None."""
    gallery, info = build(params, mates, sources, part, progress=False)
    conn.send(info)
    while (msg := conn.recv()) is not None:
        kind, probe, arg, index = msg
        if index != gallery.params.index:
            gallery.params = replace(gallery.params, index=index)
        if kind == "diagnose":
            conn.send(identify_misses.diagnose(gallery, probe, arg))
            continue
        threshold = arg
        t0 = time.process_time()
        found = gallery.search(probe, threshold=threshold, limit=20)
        conn.send((found, gallery.last_candidates, len(gallery.entries), time.process_time() - t0,
                   gallery.last_comparisons))
    conn.close()


class ShardPool:
    """`shards` processes, each holding one partition; a search is scattered to all and gathered."""

    def __init__(self, params: BenchParams, mates, sources):
        import multiprocessing as mp
        ctx = mp.get_context("fork")
        self.conns, self.procs = [], []
        for k in range(params.shards):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(there, params, mates, sources, (k, params.shards)), daemon=True)
            proc.start()
            self.conns.append(here)
            self.procs.append(proc)
        self.infos = [c.recv() for c in self.conns]

    def search(self, probe, threshold: float, index: IndexParams) -> tuple[list[dict], float, float, int]:
        """(candidates, union penetration, CPU seconds summed over shards, matcher comparisons)."""
        for c in self.conns:
            c.send(("search", probe, threshold, index))
        parts = [c.recv() for c in self.conns]
        found = sorted((x for p in parts for x in p[0]), key=lambda c: -c["score"])[:20]
        held = sum(p[2] for p in parts)
        pen = 1.0 if parts[0][1] is None else sum(p[1] for p in parts) / max(held, 1)
        return found, pen, sum(p[3] for p in parts), sum(p[4] for p in parts)

    def diagnose(self, probe, enrollment_id: str, index: IndexParams) -> tuple[bool, float]:
        """(the index named the mate, the mate's fused score), from the partition that holds it."""
        for c in self.conns:
            c.send(("diagnose", probe, enrollment_id, index))
        return next(a for a in [c.recv() for c in self.conns] if a is not None)

    def close(self) -> None:
        for c in self.conns:
            c.send(None)
        for p in self.procs:
            p.join(timeout=30)


def time_searches(pool: ShardPool, timed: list, twofinger: list, index: IndexParams, cuts: dict, fingers: int,
                  progress: bool) -> dict:
    """Ten-finger dedup of every timed probe, then two-finger identify of every planted two-finger probe, at
    one index configuration; each with where the mates were lost (`identify_misses`)."""
    return {**identify_misses.dedup_searches(pool, timed, index, cuts["dedup"], fingers, progress),
            **identify_misses.identify_searches(pool, twofinger, index, cuts["identify"], fingers, progress)}


def _threshold(params: BenchParams, people: int, identify: bool) -> float:
    fmr = (one_to_many_fmr(params.identify_fmr, params.identify_fpir, people) if identify
           else one_to_many_fmr(params.dedup_fmr, params.dedup_fpir, people))
    return engine.thresholds().fused(fmr)


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def run(fvc_dir: Path, synth_dir: Path | None, params: BenchParams, progress: bool = True,
        store_people: int = 0) -> dict:
    fvc = fvc_people(fvc_dir, progress)
    synth = synthetic_people(synth_dir, progress) if synth_dir else []
    half = len(synth) // 2
    mates = [p for p in fvc + synth[:half] if len(p.gallery) == 10 and p.probes]
    sources = [p.gallery for p in synth[half:] if len(p.gallery) == 10]
    if not sources:
        raise ValueError("background people are made from synthetic people apart from the mates: "
                         "give a `papilla synth` folder with at least 2 people")
    if params.people < len(mates):
        raise ValueError(f"--people must be at least the {len(mates)} planted mates")
    tenprint_probes = [(k, probe) for k, m in enumerate(mates) for probe in m.probes if len(probe) == 10]
    rng = np.random.default_rng(params.seed)
    timed = [tenprint_probes[i] for i in rng.permutation(len(tenprint_probes))[:params.probes]]
    one_to_one = engine.thresholds()
    cuts = {"dedup": (one_to_one.fused(params.dedup_fmr), _threshold(params, params.people, False)),
            "identify": (one_to_one.fused(params.identify_fmr), _threshold(params, params.people, True))}

    pool = ShardPool(params, mates, sources)
    info = pool.infos
    fingers = sum(i["fingers"] for i in info)
    twofinger = [(k, {p: probe[p] for p in IDENTIFY_POSITIONS}) for k, m in enumerate(mates) for probe in m.probes
                 if all(p in probe for p in IDENTIFY_POSITIONS)]
    timings = [time_searches(pool, timed, twofinger, replace(params.index, penetration=pen), cuts, fingers, progress)
               for pen in (params.index.penetration, *params.also_penetrations)]
    shares = [identify_misses.identify_searches(pool, twofinger, replace(params.index, few_finger_share=share),
                                                cuts["identify"], fingers, progress)
              for share in params.also_identify_shares]
    pool.close()
    loaded = {}
    if store_people:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="papilla-bench-store-") as home:
            loaded = store_load(store_people, sources, Path(home))

    out = {
        "people": params.people, "fingers": fingers, "shards": params.shards,
        "index": params.index.enabled, "penetration_per_finger": params.index.penetration,
        "bytes_per_finger": sum(i["array_bytes"] for i in info) / max(fingers, 1),
        "rss_bytes_per_finger": sum(i["rss_bytes"] for i in info) / max(fingers, 1),
        "bytes_per_finger_by_part": {k: sum(i["memory"].get(k, 0) for i in info) / max(fingers, 1)
                                     for k in info[0]["memory"]},
        "load_s": max(i["build_s"] for i in info),
        "load_basis": ("in-memory build of every shard in parallel, including making the perturbed background "
                       "templates (bench only); the store start-up figure is the worker's"),
        **{k: v for k, v in timings[0].items() if k != "penetration_per_finger"},
        "penetration_basis": "people any probe finger's index candidates named / gallery people (mean per search)",
        "hit_rate_basis": "planted real mates returned by the ten-finger dedup search at the dedup threshold",
        "by_penetration": timings, "by_identify_share": shares,
        "identify_basis": (f"every planted probe set's {'+'.join(map(str, IDENTIFY_POSITIONS))} fingers, at the "
                           f"identification threshold for {params.people:,} people (FMR {params.identify_fmr:g}, "
                           f"FPIR {params.identify_fpir:g})"),
        "planted_mates": len(mates), "mate_sources": sorted({m.source for m in mates}),
        "background": (f"{params.people - len(mates)} people made by perturbing templates of {len(sources)} "
                       f"synthetic people (rigid transform, {params.dropout:.0%} cylinder dropout, "
                       f"{params.flip:.0%} cell-bit flips): timing only"),
        **loaded,
    }
    return out


def format_run(r: dict) -> str:
    return "\n".join([
        f"gallery: {r['people']:,} people, {r['fingers']:,} fingers in {r['shards']} shard process(es); "
        f"index {'on' if r['index'] else 'off'} (per-finger penetration {r['penetration_per_finger']:g})",
        f"  background: {r['background']}",
        f"memory: {r['bytes_per_finger']:,.0f} bytes/finger in arrays, {r['rss_bytes_per_finger']:,.0f} bytes/finger RSS growth",
        "  bytes/finger by part: " + ", ".join(f"{k} {v:,.1f}" for k, v in r["bytes_per_finger_by_part"].items()),
        f"load: {r['load_s']:.1f} s ({r['load_basis']})",
        *([f"store start-up: {r['store_people']:,} people synced from SQLite in {r['store_load_s']:.1f} s "
           f"({r['store_load_s_per_1k_people']:.2f} s per 1,000 people, templates only, decrypted per enrollment)"]
          if "store_people" in r else []),
        f"ten-finger dedup: p50 {r['dedup_p50_s']:.3f} s, p95 {r['dedup_p95_s']:.3f} s wall "
        f"(CPU p50 {r['dedup_cpu_p50_s']:.3f} s summed over shards), {r['searches']} searches",
        f"two-finger identify: p50 {r['identify_p50_s']:.3f} s, p95 {r['identify_p95_s']:.3f} s"
        + (f" (CPU p50 {r['identify_cpu_p50_s']:.3f} s)" if "identify_cpu_p50_s" in r else ""),
        f"penetration: {r['penetration']:.4f} of people named by the index; the matcher compared "
        f"{r['matcher_share']:.4f} of the gallery's fingers",
        f"hit rate: {r['hit_rate']:.4f} dedup, {r['identify_hit_rate']:.4f} identify "
        f"({r['planted_mates']} planted mates from {', '.join(r['mate_sources'])})",
        f"where mates are lost (index: a full scan would have found it; matcher: below the 1:1 threshold; "
        f"decision: above 1:1, below the 1:N threshold at the FPIR; limit: outscored):",
        "  " + identify_misses.format_breakdown(f"ten-finger dedup at {r['penetration_per_finger']:g} per finger",
                                                r["dedup_misses"]),
        "  " + identify_misses.format_breakdown(f"two-finger identify at {r['identify_share_per_finger']:g} per finger "
                                                f"({r['identify_basis']})", r["identify_misses"]),
        *(f"at per-finger penetration {t['penetration_per_finger']:g}: dedup p50 {t['dedup_p50_s']:.3f} s, "
          f"p95 {t['dedup_p95_s']:.3f} s (CPU p50 {t['dedup_cpu_p50_s']:.3f} s); penetration {t['penetration']:.4f}, "
          f"matcher {t['matcher_share']:.4f}; hit rate {t['hit_rate']:.4f} dedup"
          for t in r.get("by_penetration", [])[1:]),
        *(f"two-finger identify at {t['identify_share_per_finger']:g} per finger: p50 {t['identify_p50_s']:.3f} s, "
          f"p95 {t['identify_p95_s']:.3f} s (CPU p50 {t['identify_cpu_p50_s']:.3f} s), matcher "
          f"{t['identify_matcher_share']:.4f}\n  " + identify_misses.format_breakdown("identify", t["identify_misses"])
          for t in r.get("by_identify_share", [])),
    ])


def store_load(people: int, sources: list[dict[int, PreparedTemplate]], home: Path, seed: int = 5) -> dict:
    """Gallery start-up from a real (SQLite) store: `people` enrollments of 10 fingers written as match writes
    them (one encrypted templates document each, plus the change log), then a fresh Gallery syncs."""
    import os

    from papilla.services.match.templates import pack_fingers
    from papilla.shared import gallery_log
    from papilla.shared.centre import Centre
    from papilla.shared.config import Settings
    from papilla.shared.names import TEMPLATES
    from papilla.shared.parties import init_centre
    from papilla.shared.results import MemoryResultSink

    os.environ["PAPILLA_HOME"] = str(home)
    init_centre(Settings.from_env())
    centre = Centre.open(Settings.from_env(), publisher=MemoryResultSink())
    rng = np.random.default_rng(seed)
    try:
        for k in range(people):
            fingers = {p: perturb(sources[rng.integers(len(sources))][p], rng, 0.1, 0.03) for p in range(1, 11)}
            eid, sid = f"enr-{k}", f"sub-{k}"
            centre.store.insert(TEMPLATES, {"_id": eid, "subject_id": sid, "engine": engine.ENGINE_VERSION,
                                            "prepared": centre.cipher.encrypt(sid, TEMPLATES, eid, "prepared",
                                                                              pack_fingers(fingers))})
            gallery_log.stamp(centre.store, eid, sid, active=True)
        gallery = Gallery(centre)
        t0, c0 = time.perf_counter(), time.process_time()
        gallery.sync()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert len(gallery.entries) == people
        return {"store_people": people, "store_load_s": wall, "store_load_cpu_s": cpu,
                "store_load_s_per_1k_people": 1000 * wall / people}
    finally:
        centre.close()
