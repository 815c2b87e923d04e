"""papilla synth: write a synthetic ten-print database in FVC layout.

    papilla synth --people N --impressions K --out DIR [--seed S] [--jobs J] [--profile NAME]

Files are `DIR/<finger>_<impression>.png` (8-bit grayscale, 500 dpi in the
PNG header) with fingers numbered 1..N*10: finger = person*10 + position,
person 0..N-1, position the ISO/ANSI finger position 1..10 (1 right thumb
.. 10 left little); impressions are numbered 1..K.  `DIR/dpi.json` holds
the resolution (`{"dpi": 500, "<DIR name>": 500}`) for FVC-layout readers
(`papilla bench`), and `DIR/synth.json` the generation parameters.

Every file is written to a temporary name and renamed, so an interrupted run
leaves only complete images; running the same command again skips them and
finishes the rest.  The content depends only on (seed, person, position,
impression): asking for more people or impressions later extends the set
consistently.
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path


DPI = 500
# the names of services/capture/synthetic/profiles.PROFILES (that module imports numba kernels, see above);
# tests/synthetic/test_profiles.py checks the two lists are the same
PROFILE_NAMES = ("nominal", "distorted", "dry", "wet", "small_contact", "hard")


def _finger_job(job: tuple) -> int:
    """Write the missing impressions of one finger (in a pool process); returns how many were written."""
    from papilla.services.capture.synthetic.database import write_finger  # lazy: numba kernels (see top)
    out, seed, person, position, missing, profile = job
    return write_finger((seed, person, position, {out: (profile, missing)}))


def run(args) -> int:
    from tqdm import tqdm

    if args.people < 1 or args.impressions < 1:
        print("synth: --people and --impressions must be >= 1", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "synth.json"
    from papilla.services.capture.synthetic import PROFILES, MasterParams  # lazy: numba kernels (see top)
    from papilla.services.capture.synthetic.database import atomic_write as _atomic_write  # lazy: as above

    info = {"generator": "papilla.services.capture.synthetic", "seed": args.seed, "dpi": DPI,
            "numbering": "finger = person*10 + ISO position (1..10), impressions 1..K",
            "master_params": asdict(MasterParams()), "profile": args.profile,
            "impression_params": asdict(PROFILES[args.profile])}
    info = json.loads(json.dumps(info))     # tuples as lists, as read back
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old.get("seed") != args.seed or old.get("master_params") != info["master_params"] \
                or old.get("impression_params") != info["impression_params"]:
            print(f"synth: {out} was generated with another seed or other parameters; "
                  "use a new folder", file=sys.stderr)
            return 2
    for stale in out.glob(".*.tmp"):        # leftovers of an interrupted run
        stale.unlink(missing_ok=True)
    _atomic_write(manifest, (json.dumps({**info, "people": max(args.people, _old_people(manifest)),
                                         "impressions": args.impressions}, indent=1) + "\n").encode())
    _atomic_write(out / "dpi.json", (json.dumps({"dpi": DPI, out.resolve().name: DPI}) + "\n").encode())

    existing = {p.name for p in out.iterdir()}
    jobs, done = [], 0
    for person in range(args.people):
        for position in range(1, 11):
            finger = person * 10 + position
            missing = [k for k in range(1, args.impressions + 1) if f"{finger}_{k}.png" not in existing]
            done += args.impressions - len(missing)
            if missing:
                jobs.append((str(out), args.seed, person, position, missing, args.profile))
    total = args.people * 10 * args.impressions
    bar = tqdm(total=total, initial=done, unit="img", desc="synth", disable=args.quiet)
    try:
        if args.jobs > 1 and len(jobs) > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(args.jobs) as pool:
                for n in pool.imap_unordered(_finger_job, jobs):
                    bar.update(n)
        else:
            for job in jobs:
                bar.update(_finger_job(job))
    finally:
        bar.close()
    if not args.quiet:
        print(f"{total} impressions of {args.people * 10} fingers in {out} "
              f"({total - done} written, {done} already there)")
    return 0


def _old_people(manifest: Path) -> int:
    try:
        return int(json.loads(manifest.read_text()).get("people", 0))
    except (OSError, ValueError):
        return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("synth", help="write a synthetic fingerprint database (FVC layout)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--people", type=int, required=True, help="synthetic people (10 fingers each)")
    p.add_argument("--impressions", type=int, required=True, help="impressions per finger")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="database seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--profile", default="nominal", choices=PROFILE_NAMES,
                   help="impression profile (services/capture/synthetic/profiles.py; default nominal)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
