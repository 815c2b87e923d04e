"""`papilla explain A B [--png OUT] [--json]`: why two fingers scored what they scored.

A and B are fingerprint images (PNG, TIFF, BMP, JPEG, WSQ: extracted here) or ISO/IEC 19794-2 minutiae
records. Prints the score, each matcher stage's figures and the paired minutiae; --png draws both prints
side by side with the pairs joined.
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so this command imports the
# engines (numba kernels, JIT) inside its functions: units under MemoryDenyWriteExecute must not load numba.

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from papilla.shared.formats.images import ImageFormatError, decode_image
from papilla.shared.formats.iso19794_2 import MAGIC, IsoFormatError, read_iso
from papilla.shared.template import FingerTemplate


class InputError(ValueError):
    """A file that is neither a readable fingerprint image nor an ISO 19794-2 record."""


def load_finger(path: Path, dpi: int | None) -> tuple[FingerTemplate, np.ndarray | None]:
    """The template of one input, and its 500-dpi image when the input is an image."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        if data[:4] == MAGIC:
            return read_iso(data).to_finger_template(), None
        from papilla.services.extract.engine import extract_with_intermediates

        decoded = decode_image(data)
        template, inter = extract_with_intermediates(decoded.pixels, dpi=dpi or decoded.dpi or 500)
        return template, inter.image
    except (IsoFormatError, ImageFormatError, ValueError) as exc:
        raise InputError(f"{path}: {exc}") from None


def format_text(e) -> str:
    s = e.stages
    lines = [f"score {e.score:.4f} (engine {e.engine_version})",
             f"  minutiae {s.minutiae_a} / {s.minutiae_b}, valid cylinders {s.cylinders_a} / {s.cylinders_b}",
             f"  1 local similarity: {s.candidates} candidate pairs",
             f"  2 pre-selection:    {s.preselected} one-to-one pairs",
             f"  3 relaxation:       relaxed similarity and efficiency per pair (below)",
             f"  4 consolidation:    mean of the {s.counted} most efficient pairs = {s.consolidated:.4f}",
             f"  5 global pairing:   {s.paired} minutiae paired under one rigid transform",
             f"  6 normalisation:    x {s.normalisation:.3f} (evidence {s.evidence:.3f}, few-cylinder {s.few_cylinders:.3f})",
             f"  {'A':>3} {'(x, y)':>12}   {'B':>3} {'(x, y)':>12}  {'local':>6} {'relaxed':>7} {'eff':>5}  counted"]
    for p in e.pairs:
        lines.append(f"  {p.a:>3} ({p.a_xy[0]:4.0f},{p.a_xy[1]:4.0f})   {p.b:>3} ({p.b_xy[0]:4.0f},{p.b_xy[1]:4.0f})  "
                     f"{p.local_similarity:6.3f} {p.relaxed:7.4f} {p.efficiency:5.2f}  {'yes' if p.counted else ''}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from papilla.services.match import engine
    from papilla.services.match.explain import draw_explanation, explain_pair

    try:
        ta, ia = load_finger(Path(args.a), args.dpi)
        tb, ib = load_finger(Path(args.b), args.dpi)
    except InputError as exc:
        print(f"papilla explain: {exc}", file=sys.stderr)
        return 2
    e = explain_pair(ta, tb)
    if args.png:
        try:
            Path(args.png).write_bytes(draw_explanation(e, ta, tb, ia, ib))
        except OSError as exc:
            print(f"papilla explain: cannot write {args.png} ({exc.strerror or exc})", file=sys.stderr)
            return 2
    if args.json:
        out = e.to_dict()
        out["match_at_1e-4"] = engine.decide(e.score, fmr=1e-4)
        print(json.dumps(out))
    else:
        print(format_text(e))
        print(f"match at FMR 1e-4: {'yes' if engine.decide(e.score, fmr=1e-4) else 'no'} "
              f"(threshold {engine.thresholds().finger(1e-4):.4f})")
        if args.png:
            print(f"drawing: {args.png}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("explain", help="the matcher's stages and paired minutiae for two fingers",
                              description=__doc__)
    p.add_argument("a", help="first finger: image or ISO/IEC 19794-2 record")
    p.add_argument("b", help="second finger: image or ISO/IEC 19794-2 record")
    p.add_argument("--png", help="draw both prints side by side with the pairs joined")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument("--dpi", type=int, help="resolution of image inputs (default: from the file, else 500)")
    p.set_defaults(func=run)
