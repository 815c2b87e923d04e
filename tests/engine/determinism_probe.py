"""Run as a script by test_determinism.py: extract some FVC2002 images and score all their pairs, print
sha256 digests of the templates and of the scores (one JSON line)."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from papilla.bench import data
from papilla.services.match import engine
from papilla.shared.template import template_to_bytes


def main(fvc: Path, every: int) -> dict:
    temps = []
    for db in data.discover(fvc):
        temps += [data.extract_papilla(i.path, db.dpi) for i in db.impressions[::every]]
    preps = [engine.prepare(t) for t in temps]
    packed = engine.pack(preps)
    scores = np.concatenate([engine.compare_many(p, packed) for p in preps])
    one = np.float32([engine.compare(preps[0], p) for p in preps])
    t_hash = hashlib.sha256(b"".join(template_to_bytes(t) for t in temps)).hexdigest()
    return {"templates": len(temps), "minutiae": int(sum(len(t.minutiae) for t in temps)), "template_sha256": t_hash,
            "scores_sha256": hashlib.sha256(scores.tobytes()).hexdigest(),
            "compare_equals_compare_many": bool(np.array_equal(one, scores[:len(preps)]))}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]))))
