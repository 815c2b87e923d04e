"""`papilla inspect IMAGE --out DIR [--dpi N]`: draw every extraction stage as PNG."""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def _gray(a: np.ndarray, lo: float | None = None, hi: float | None = None) -> Image.Image:
    a = np.asarray(a, dtype=np.float32)
    lo = float(np.min(a)) if lo is None else lo
    hi = float(np.max(a)) if hi is None else hi
    scaled = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return Image.fromarray(np.clip(scaled * 255, 0, 255).astype(np.uint8))


def _bool(a: np.ndarray, invert: bool = False) -> Image.Image:
    v = a.astype(bool)
    return Image.fromarray(np.where(v ^ invert, 255, 0).astype(np.uint8))


def draw_orientation(image: np.ndarray, theta: np.ndarray, mask: np.ndarray, step: int = 10) -> Image.Image:
    canvas = Image.fromarray(image).convert("RGB")
    d = ImageDraw.Draw(canvas)
    h, w = theta.shape
    half = step * 0.45
    for y in range(step // 2, h, step):
        for x in range(step // 2, w, step):
            if not mask[y, x]:
                continue
            c, s = np.cos(theta[y, x]) * half, np.sin(theta[y, x]) * half
            d.line([(x - c, y - s), (x + c, y + s)], fill=(255, 0, 0), width=1)
    return canvas


def draw_minutiae(image: np.ndarray, minutiae: np.ndarray, mask: np.ndarray | None = None,
                  raw: np.ndarray | None = None) -> Image.Image:
    """Endings red circles, bifurcations blue squares, rejected raw minutiae small gray dots;
    the tail shows the direction (ISO angle: counter-clockwise on screen)."""
    base = np.asarray(image, dtype=np.float32)
    if mask is not None:
        base = np.where(mask, base, base * 0.6 + 100)
    canvas = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).convert("RGB")
    d = ImageDraw.Draw(canvas)
    if raw is not None:
        for m in raw:
            x, y = float(m["x"]), float(m["y"])
            d.point((x, y), fill=(160, 160, 160))
    for m in minutiae:
        x, y, a = float(m["x"]), float(m["y"]), float(m["angle"])
        colour = (220, 0, 0) if int(m["kind"]) == 1 else (0, 80, 255)
        r = 4
        if int(m["kind"]) == 1:
            d.ellipse([x - r, y - r, x + r, y + r], outline=colour)
        else:
            d.rectangle([x - r, y - r, x + r, y + r], outline=colour)
        d.line([(x, y), (x + 12 * np.cos(a), y - 12 * np.sin(a))], fill=colour, width=1)
    return canvas


def write_intermediates(inter, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    mask = inter.mask
    images = {
        "0-image.png": Image.fromarray(inter.image),
        "1-mask.png": _bool(mask),
        "2-orientation.png": draw_orientation(inter.image, inter.orientation, mask),
        "2-coherence.png": _gray(inter.coherence, 0.0, 1.0),
        "3-frequency.png": _gray(np.where(mask, inter.frequency, 0.0), 0.0, 0.25),
        "4-enhanced.png": _gray(np.where(mask, -inter.enhanced, 0.0), -2.5, 2.5),
        "5-binary.png": _bool(inter.binary, invert=True),
        "5-skeleton.png": _bool(inter.skeleton, invert=True),
        "6-quality.png": _gray(inter.quality_map, 0.0, 1.0),
        "7-minutiae.png": draw_minutiae(inter.image, inter.minutiae, mask, inter.raw_minutiae),
    }
    paths = []
    for name, img in images.items():
        p = out / name
        img.save(p)
        paths.append(p)
    return paths


def run(args: argparse.Namespace) -> int:
    from papilla.services.extract.engine import extract_with_intermediates
    from papilla.shared.formats.images import ImageFormatError, load_image

    try:
        decoded = load_image(args.image)
    except (OSError, ImageFormatError) as exc:
        print(f"papilla inspect: {args.image}: {exc}", file=sys.stderr)
        return 2
    dpi = args.dpi or decoded.dpi or 500
    try:
        template, inter = extract_with_intermediates(decoded.pixels, dpi=dpi)
    except ValueError as exc:
        print(f"papilla inspect: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    paths = write_intermediates(inter, out)
    kinds = template.minutiae["kind"]
    summary = {
        "image": str(args.image), "dpi": dpi, "width": template.width, "height": template.height,
        "minutiae": int(len(template.minutiae)), "endings": int((kinds == 1).sum()),
        "bifurcations": int((kinds == 2).sum()), "raw_minutiae": int(len(inter.raw_minutiae)),
        "quality": int(template.quality),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"minutiae: {summary['minutiae']} ({summary['endings']} endings, "
          f"{summary['bifurcations']} bifurcations; {summary['raw_minutiae']} before filtering)")
    print(f"quality: {summary['quality']}")
    print(f"wrote {len(paths)} images to {out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="extract minutiae from an image and draw every stage",
                              description=__doc__)
    p.add_argument("image", help="PNG, TIFF, BMP, JPEG or WSQ fingerprint image")
    p.add_argument("--out", required=True, help="directory for the PNGs (created if missing)")
    p.add_argument("--dpi", type=int, default=None,
                   help="image resolution (default: from the file header, else 500)")
    p.set_defaults(func=run)
