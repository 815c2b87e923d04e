"""Extraction speed on the FVC2002 B sets: median per-image CPU time on one core.

    python tools/extract_bench.py [--data DIR]

Numba compilation (warm-up) is excluded; times are process CPU time of
`extract()` on decoded pixels (decoding excluded), so other load on the
machine inflates them less than wall-clock time would.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from papilla.services.extract.engine import extract, warm_up
from papilla.shared.formats.images import load_image
from papilla.shared.paths import reference_data_dir


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=reference_data_dir() / "fvc2002")
    args = ap.parse_args()
    dpis = json.loads((args.data / "dpi.json").read_text())
    warm_up()
    times, counts, quality = [], [], []
    for db, dpi in sorted(dpis.items()):
        per_db = []
        for f in sorted((args.data / db).glob("*.tif")):
            px = load_image(f).pixels
            t0 = time.process_time()
            tpl = extract(px, dpi)
            per_db.append((time.process_time() - t0) * 1000)
            counts.append(len(tpl.minutiae))
            quality.append(tpl.quality)
        times += per_db
        print(f"{db}: {len(per_db)} images at {dpi} dpi, median {np.median(per_db):.1f} ms")
    print(f"all: {len(times)} images, median {np.median(times):.1f} ms, p90 {np.percentile(times, 90):.1f} ms, "
          f"max {max(times):.1f} ms; minutiae median {np.median(counts):.0f}; quality median {np.median(quality):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
