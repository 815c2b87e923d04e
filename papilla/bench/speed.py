"""Speed bench on one core: extraction ms per image, 1:1 comparisons/s, 1:N scan rate."""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

import os
import time
from pathlib import Path

import numpy as np

from . import data


def pin_one_core() -> int | None:
    """Run this process on a single CPU (the figures are per core)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return cpus[-1]
    except (AttributeError, OSError):
        return None


def run(data_dir: Path, extractor: str = "papilla", n_extract: int = 16, seconds: float = 3.0,
        progress: bool = True) -> dict:
    from papilla.services.match import engine
    from papilla.services.match.engine import mcc
    from tqdm import tqdm

    cpu = pin_one_core()
    dbs = data.discover(data_dir)
    # extraction: a spread of images over the databases, not cached
    imps = [(db, i) for db in dbs for i in db.impressions]
    pick = [imps[k] for k in np.linspace(0, len(imps) - 1, min(n_extract, len(imps))).astype(int)]
    fn = data.EXTRACTORS[extractor]
    fn(pick[0][1].path, pick[0][0].dpi)  # warm-up (JIT compilation)
    times = []
    for db, imp in tqdm(pick, desc="extract", disable=not progress, leave=False):
        t = time.process_time()
        fn(imp.path, db.dpi)
        times.append(time.process_time() - t)
    # matching: templates precomputed (cached extraction, prepared once)
    temps = [t for db in dbs for t in data.templates_for(db, extractor, progress=progress)]
    preps = [engine.prepare(t) for t in temps]
    packed = engine.pack(preps)
    n = len(preps)
    rng = np.random.default_rng(1)
    left = rng.integers(0, n, 20000)
    right = rng.integers(0, n, 20000)
    mcc.compare_pairs(packed.geo, packed.cyl, packed.offsets, left[:4], right[:4])
    # rates are per CPU-second of this (single-threaded, pinned) process, so that other
    # load on a shared machine does not count against the matcher
    done, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        mcc.compare_pairs(packed.geo, packed.cyl, packed.offsets, left, right)
        done += len(left)
    compare_per_s = done / (time.process_time() - t0)
    # the Python-level compare() call, one pair at a time (includes call overhead)
    engine.compare(preps[0], preps[1])
    done, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds / 3:
        for k in range(1000):
            engine.compare(preps[left[k]], preps[right[k]])
        done += 1000
    call_per_s = done / (time.process_time() - t0)
    # 1:N: each probe against the whole packed gallery
    engine.compare_many(preps[0], packed)
    done, t0, k = 0, time.process_time(), 0
    while time.process_time() - t0 < seconds:
        engine.compare_many(preps[k % n], packed)
        done += n
        k += 1
    identify = done / (time.process_time() - t0)
    return {
        "extract_ms_median": float(np.median(times) * 1e3),
        "compare_per_s": float(compare_per_s),
        "identify_fingers_per_s": float(identify),
        "compare_call_per_s": float(call_per_s),
        "extractor": extractor,
        "clock": "process CPU time, one pinned core",
        "cpu": cpu,
        "mean_minutiae": float(np.mean([len(t.minutiae) for t in temps])),
        "mean_cylinders": float(np.mean([len(p) for p in preps])),
        "template_bytes_mean": float(np.mean([len(p.to_bytes()) for p in preps])),
    }
