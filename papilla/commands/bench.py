"""`papilla bench accuracy|speed|distinctness|calibrate|usability|contacts|quality|identify`: engine benches."""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import argparse
import json
import os
import sys
from pathlib import Path

from papilla.commands.synth import PROFILE_NAMES


def _default_data() -> Path:
    from papilla.shared.paths import reference_data_dir
    return reference_data_dir() / "fvc2002"


def _accuracy(args) -> int:
    from papilla.bench import accuracy, contacts, record
    if args.record and args.limit_fingers:
        print("--record measures every finger: drop --limit-fingers", file=sys.stderr)
        return 2
    if args.record and args.set:
        print("--record measures the default extraction: drop --set", file=sys.stderr)
        return 2
    if args.set:
        from papilla.bench import data  # lazy: the command module imports no bench code for `--help`
        os.environ[data.PARAMS_ENV] = ";".join(args.set)
        data.extraction_params()   # a mistake in --set: one sentence before any work
    profiles = [x for x in (args.synthetic or "").split(",") if x]
    unknown = [x for x in profiles if x not in PROFILE_NAMES]
    if unknown or (args.synthetic is not None and not profiles) or args.people < 1 or args.impressions < 2:
        print(f"--synthetic takes profiles among {', '.join(PROFILE_NAMES)} (got {args.synthetic!r}), with "
              "--people at least 1 and --impressions at least 2", file=sys.stderr)
        return 2
    res = accuracy.run(Path(args.data or _default_data()), extractor=args.extractor, peer=args.peer,
                       det=Path(args.det) if args.det else None, progress=not args.no_progress,
                       limit_fingers=args.limit_fingers)
    if args.contacts:
        res["contacts"] = contacts.run(Path(args.data or _default_data()), extractor=args.extractor,
                                       progress=not args.no_progress)
    if profiles:
        from papilla.bench import synthetic_profiles  # lazy: the generator's numba kernels
        res["synthetic"] = synthetic_profiles.run(profiles, people=args.people, impressions=args.impressions,
                                                  seed=args.seed, extractor=args.extractor,
                                                  progress=not args.no_progress, limit_fingers=args.limit_fingers)
    if args.record:
        command = " ".join(["papilla bench accuracy --record", *(["--data", args.data] if args.data else []),
                            "--extractor", args.extractor])
        res["record"] = record.write_record(res, command)
    if args.json:
        print(json.dumps(res))
    else:
        print(accuracy.format_table(res, f"papilla matcher {res['engine_version']}, extractor {args.extractor}"))
        if "peer" in res:
            print(accuracy.format_table(res["peer"], res["peer"]["name"]))
        if args.det:
            print(f"DET curve: {args.det}")
        if args.contacts:
            print(contacts.format_table(res["contacts"]))
        if profiles:
            print(synthetic_profiles.format_table(res["synthetic"], res))
        if args.record:
            print(f"recorded: all-pairs mean EER {100 * res['record']['mean_eer']:.3f} % in {record.RECORD_FILE}")
    return 0


def _speed(args) -> int:
    from papilla.bench import speed
    if args.images < 1:
        print(f"--images must be at least 1 (got {args.images})", file=sys.stderr)
        return 2
    res = speed.run(Path(args.data or _default_data()), extractor=args.extractor, seconds=args.seconds,
                    progress=not args.no_progress, peer=args.peer, peer_images=args.images)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"extractor {res['extractor']}, one core (cpu {res['cpu']})")
        print(f"extraction: median {res['extract_ms_median']:.1f} ms per image")
        print(f"1:1 compare: {res['compare_per_s']:,.0f} comparisons/s (batched, templates precomputed); "
              f"{res['compare_call_per_s']:,.0f}/s through the Python compare() call")
        print(f"1:N scan: {res['identify_fingers_per_s']:,.0f} fingers/s")
        print(f"templates: {res['mean_minutiae']:.1f} minutiae, {res['mean_cylinders']:.1f} cylinders, "
              f"{res['template_bytes_mean']:.0f} bytes prepared (mean)")
        if "peer" in res:
            pr = res["peer"]
            print(f"extraction against {pr['peer']}, same {pr['images']} images interleaved, best of "
                  f"{pr['repeats']} per image:")
            print(f"  papilla {pr['papilla_ms_median']:.1f} ms median ({pr['papilla_ms_min']:.1f} min), "
                  f"mindtct {pr['mindtct_ms_median']:.1f} ms median ({pr['mindtct_ms_min']:.1f} min)")
            verdict = "met" if pr["ratio_median"] <= pr["target_ratio"] else "NOT met"
            print(f"  ratio papilla/mindtct {pr['ratio_median']:.3f} (medians), {pr['ratio_total']:.3f} (totals); "
                  f"target <= {pr['target_ratio']}: {verdict}")
    return 0


def _calibrate(args) -> int:
    from papilla.bench import calibrate
    res = calibrate.run(Path(args.data or _default_data()), extractor=args.extractor,
                        out=Path(args.out) if args.out else None, progress=not args.no_progress)
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k != "impostor_tail"}))
    else:
        print(f"engine {res['engine_version']}: {res['calibrated_on']}")
        for k in ("1e-2", "1e-3", "1e-4"):
            print(f"  FMR {k}: finger >= {res['finger_thresholds'][k]:.4f}   fused >= {res['fused_thresholds'][k]:.3f}")
    return 0


def _distinctness(args) -> int:
    from papilla.bench import distinctness
    res = distinctness.run(Path(args.data or _default_data()), extractor=args.extractor,
                           progress=not args.no_progress)
    print(json.dumps(res) if args.json else distinctness.format_table(res))
    return 0


def _usability(args) -> int:
    from papilla.bench import usability
    rows = usability.run(Path(args.data or _default_data()), [Path(d) for d in args.synth],
                         progress=not args.no_progress)
    print(json.dumps({"rows": rows}) if args.json else usability.format_table(rows))
    return 0


def _contacts(args) -> int:
    from papilla.bench import contacts
    res = contacts.run(Path(args.data or _default_data()), extractor=args.extractor, progress=not args.no_progress)
    print(json.dumps(res) if args.json else contacts.format_table(res))
    return 0


def _quality(args) -> int:
    from papilla.bench import nfiq
    res = nfiq.run(Path(args.data or _default_data()), progress=not args.no_progress)
    print(json.dumps(res) if args.json else nfiq.format_table(res))
    return 0


def _identify(args) -> int:
    from dataclasses import replace

    from papilla.bench import identify, index_curve
    from papilla.services.match.index import IndexParams

    defaults = IndexParams()
    raw = args.penetration or str(defaults.penetration)
    try:
        penetrations = [float(x) for x in raw.split(",")]
    except ValueError:
        penetrations = []
    if not penetrations or not all(0 < x <= 1 for x in penetrations):
        print(f"--penetration must be shares between 0 and 1, comma-separated (got {raw!r})", file=sys.stderr)
        return 2
    index = replace(defaults, enabled=args.index == "on", penetration=penetrations[0],
                    fused_share=defaults.fused_share if args.fused_share is None else args.fused_share,
                    bits=args.index_bits or defaults.bits, hashes=args.index_hashes or defaults.hashes)
    if index.bits % 64 or not 0 <= index.fused_share <= 1:
        print("--index-bits must be a multiple of 64 and --fused-share between 0 and 1", file=sys.stderr)
        return 2
    if args.full_scan_below is not None:
        index = replace(index, full_scan_below=args.full_scan_below, min_candidates=1)
    try:
        shares = [float(x) for x in args.identify_share.split(",")] if args.identify_share else [
            defaults.few_finger_share]
    except ValueError:
        shares = []
    if not shares or not all(0 < x <= 1 for x in shares):
        print(f"--identify-share must be shares between 0 and 1, comma-separated (got {args.identify_share!r})",
              file=sys.stderr)
        return 2
    index = replace(index, few_finger_share=shares[0])
    params = identify.BenchParams(people=args.people, probes=args.probes, index=index, shards=args.shards,
                                  also_penetrations=tuple(penetrations[1:]), also_identify_shares=tuple(shares[1:]))
    data, synth = Path(args.data or _default_data()), Path(args.synthetic)
    if not synth.is_dir():
        print(f"no synthetic database at {synth}: make one with `papilla synth --people 80 --impressions 2 "
              f"--out {synth}`", file=sys.stderr)
        return 2
    if args.curve:
        res = index_curve.index_curve(data, synth, params, progress=not args.no_progress, rotate=args.rotate)
        print(json.dumps(res) if args.json else index_curve.format_curve(res))
        return 0
    try:
        res = identify.run(data, synth, params, progress=not args.no_progress, store_people=args.store_people)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(res) if args.json else identify.format_run(res))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="recognition engine benchmarks (accuracy, speed, calibration)")
    sub = p.add_subparsers(dest="bench_command", required=True, metavar="BENCH")

    def common(q, extractor=True):
        q.add_argument("--data", help="FVC-layout database folder or a folder of them "
                                      "(default: reference data fvc2002)")
        q.add_argument("--json", action="store_true", help="print exactly one JSON object")
        q.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
        if extractor:
            q.add_argument("--extractor", choices=("papilla", "nbis"), default="papilla",
                           help="minutiae source for the papilla matcher (default papilla)")

    a = sub.add_parser("accuracy", help="EER, FMR100, FMR1000, ZeroFMR per database (FVC and all-pairs protocols)")
    common(a)
    a.add_argument("--det", metavar="PNG", help="write a DET curve (all-pairs protocol)")
    a.add_argument("--peer", choices=("nbis",), help="also run NBIS mindtct+bozorth3 on the same protocol")
    a.add_argument("--contacts", action="store_true",
                   help="also run the small-contact bench (bench contacts) and print both in one report")
    a.add_argument("--record", action="store_true",
                   help="write the all-pairs EER as the CI accuracy guard's recorded figure "
                        "(papilla/bench/accuracy-record.json)")
    a.add_argument("--set", action="append", default=[], metavar="STAGE.FIELD=VALUE",
                   help="extract with this ExtractionParams field changed (repeatable; e.g. filtering.spur_length=10)"
                        "; the calibration stays that of the defaults")
    a.add_argument("--synthetic", metavar="PROFILE[,PROFILE...]",
                   help="also measure synthetic sets of these impression profiles (nominal, distorted, dry, wet, "
                        "small_contact, hard), generated by seed into the bench cache")
    a.add_argument("--people", type=int, default=10, help="with --synthetic: people per set (10 fingers each)")
    a.add_argument("--impressions", type=int, default=4, help="with --synthetic: impressions per finger")
    a.add_argument("--seed", type=int, default=1, help="with --synthetic: the sets' seed")
    a.add_argument("--limit-fingers", type=int, help=argparse.SUPPRESS)
    a.set_defaults(func=_accuracy)

    s = sub.add_parser("speed", help="extraction ms/image, comparisons/s and 1:N fingers/s on one core")
    common(s)
    s.add_argument("--seconds", type=float, default=3.0, help="time per matching measurement")
    s.add_argument("--peer", choices=("nbis",),
                   help="also time NBIS mindtct on the same images, interleaved with papilla's extraction")
    s.add_argument("--images", type=int, default=80, help="images for the --peer extraction timing (default 80)")
    s.set_defaults(func=_speed)

    d = sub.add_parser("distinctness", help="impostor FMR at the per-finger thresholds over all distinct fingers")
    common(d)
    d.set_defaults(func=_distinctness)

    u = sub.add_parser("usability", help="the centre's usable-finger measures on real, synthetic and junk images")
    common(u, extractor=False)
    u.add_argument("--synth", action="append", default=[], metavar="DIR",
                   help="also measure a folder of synthetic impressions (papilla synth), repeatable")
    u.set_defaults(func=_usability)

    k = sub.add_parser("contacts", help="impostor and genuine rates of templates cut to their k central minutiae")
    common(k)
    k.set_defaults(func=_contacts)

    q = sub.add_parser("quality", help="the project's finger quality beside NFIQ 2 (nbis-py) per database")
    common(q, extractor=False)
    q.set_defaults(func=_quality)

    i = sub.add_parser("identify", help="1:N at scale: memory per finger, load time, index penetration and hit "
                                         "rate on planted real mates, dedup / identify latency")
    common(i, extractor=False)
    i.add_argument("--synthetic", default="var/synthetic",
                   help="`papilla synth` folder: half its people are planted mates, half seed the timing background")
    i.add_argument("--people", type=int, default=10_000, help="gallery size in people (10 fingers each)")
    i.add_argument("--probes", type=int, default=30, help="ten-finger searches to time")
    i.add_argument("--index", choices=("on", "off"), default="on", help="candidate index (off: full scan)")
    i.add_argument("--penetration",
                   help="per-finger share passed to the matcher for ten-finger probes (x10/n for n fingers; "
                        "default IndexParams.penetration); a comma-separated list times the same searches on the "
                        "same gallery at each")
    i.add_argument("--identify-share",
                   help="per-finger share passed to the matcher for probes of at most IndexParams.few_fingers "
                        "fingers (default IndexParams.few_finger_share); a comma-separated list times the "
                        "two-finger searches at each")
    i.add_argument("--fused-share", type=float,
                   help="share of the candidate budget given to people ranked by their summed index scores over "
                        "the probe's fingers, for probes of 4 fingers or more (0: each finger's own best only; "
                        "default IndexParams.fused_share)")
    i.add_argument("--index-bits", type=int, help="signature bits per finger (default IndexParams.bits)")
    i.add_argument("--index-hashes", type=int, help="LSH functions per cylinder (default IndexParams.hashes)")
    i.add_argument("--shards", type=int, default=1, help="worker processes, each holding a partition")
    i.add_argument("--store-people", type=int, default=1000,
                   help="also time a gallery start-up from a SQLite store of this many people (0: skip)")
    i.add_argument("--full-scan-below", type=int, help=argparse.SUPPRESS)
    i.add_argument("--curve", action="store_true",
                   help="only the index's hit rate against penetration among distinct real fingers")
    i.add_argument("--rotate", type=int, default=1, metavar="R",
                   help="with --curve: enrol impressions 1..R in turn, every other impression a probe set")
    i.set_defaults(func=_identify)

    c = sub.add_parser("calibrate", help="write the engine's calibration JSON (thresholds per FMR)")
    common(c)
    c.add_argument("--out", help="output path (default: the JSON beside the engine)")
    c.set_defaults(func=_calibrate)
