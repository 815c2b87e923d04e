"""Synthetic databases in FVC layout: which seed each person and impression gets, and one finger's files.

`papilla synth` and `papilla bench accuracy --synthetic` both write through `write_finger`, so a bench set of
profile P and seed S holds the same images as `papilla synth --profile P --seed S`.
Files are `<finger>_<impression>.png`, finger = person * 10 + ISO position (1..10), impressions 1..K.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..devices import encode_png
from .impression import impression
from .master import finger_master, person_fingers
from .params import DPI
from .profiles import profile


def person_seed(seed: int, person: int) -> int:
    return int(np.random.SeedSequence([seed & (2 ** 63 - 1), person, 0x5E]).generate_state(1, np.uint64)[0] >> 2)


def impression_seed(seed: int, finger: int, impression_number: int) -> int:
    return int(np.random.SeedSequence([seed & (2 ** 63 - 1), finger, impression_number, 0x1B])
               .generate_state(1, np.uint64)[0] >> 2)


def atomic_write(path: Path, data: bytes) -> None:
    """Write under a temporary name, then rename: an interrupted run leaves only complete files."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_finger(job: tuple) -> int:
    """(seed, person, position, {folder: (profile name, [missing impression numbers])}): grow the finger's
    master once and write the missing impressions of every profile; returns how many were written."""
    seed, person, position, wanted = job
    master = finger_master(person_fingers(person_seed(seed, person))[position - 1])
    finger = person * 10 + position
    written = 0
    for folder, (name, missing) in wanted.items():
        params = profile(name)
        for k in missing:
            pixels = impression(master, impression_seed(seed, finger, k), params)
            atomic_write(Path(folder) / f"{finger}_{k}.png", encode_png(pixels, DPI))
            written += 1
    return written
