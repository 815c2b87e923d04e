"""Usable-finger bench: what the centre's usability check measures on real, synthetic and junk images.

`papilla bench usability [--data FVC] [--synth DIR ...]` extracts every image,
measures its ridge structure (`services/extract/engine/usability.py`) and
prints, per source, the distribution of each measure and how many images the
check (with its default parameters) rejects, and for which reason. Used to
choose the defaults; figures in docs/usable-fingers.md.
"""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import data

JUNK_SIDE = 400


def _ridges(h: int, w: int, period: float = 9.0, angle: float = 0.5) -> np.ndarray:
    """Straight parallel ridges: perfect flow and frequency, no minutiae."""
    yy, xx = np.mgrid[0:h, 0:w]
    t = xx * np.cos(angle) + yy * np.sin(angle)
    return (128 + 90 * np.sin(2 * np.pi * t / period)).astype(np.uint8)


def dislocated_ridges(n: int, side: int = JUNK_SIDE, period: float = 9.0) -> np.ndarray:
    """Parallel ridges with `n` dislocations (a ridge starts at each): clear structure, exactly `n` minutiae.

    The dislocations sit on a grid at least 80 px apart and from the border (n <= 16).
    """
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    phase = 2 * np.pi * yy / period
    cols = int(np.ceil(np.sqrt(n)))
    step = (side - 80) / max(cols - 1, 1) if cols > 1 else 0
    for k in range(n):
        cy, cx = 40 + (k // cols) * step + 0.5, 40 + (k % cols) * step + 0.5
        if n == 1:
            cy, cx = side / 2 + 0.5, side / 2 + 0.5
        phase += np.arctan2(yy - cy, xx - cx)
    return (128 + 90 * np.cos(phase)).astype(np.uint8)


def junk_images(seed: int = 0) -> dict[str, np.ndarray]:
    """Images with no usable finger, 500 dpi, deterministic for a seed (the check must refuse each)."""
    from scipy import ndimage as ndi
    rng = np.random.default_rng(seed)
    s = JUNK_SIDE
    yy, xx = np.mgrid[0:s, 0:s]

    def blobs(sigma: float) -> np.ndarray:
        b = ndi.gaussian_filter(rng.normal(0, 1, (s, s)), sigma)
        return np.clip(128 + 127 * b / (3 * b.std()), 0, 255).astype(np.uint8)
    return {
        "black_1000": np.zeros((1000, 1000), np.uint8),
        "white": np.full((s, s), 255, np.uint8),
        "flat_grey": np.full((s, s), 128, np.uint8),
        "gradient": ((xx + yy) * 255 // (2 * s - 2)).astype(np.uint8),
        "uniform_noise": rng.integers(0, 256, (s, s), dtype=np.uint8),
        "gaussian_noise": np.clip(rng.normal(128, 40, (s, s)), 0, 255).astype(np.uint8),
        **{f"blob_noise_{sigma:g}": blobs(sigma) for sigma in (1.5, 2.0, 2.25, 2.5, 3.0, 4.0, 8.0)},
        "salt_pepper": np.where(rng.random((s, s)) < 0.05, 0, 255).astype(np.uint8),
        "checkerboard": (((xx // 16 + yy // 16) % 2) * 255).astype(np.uint8),
        "tiny_ridges_110": _ridges(110, 110),   # just above the decoder's minimum side (100 px)
        "parallel_ridges": _ridges(s, s),
        "dislocated_ridges_6": dislocated_ridges(6),
    }


def fvc_crops(db: data.Database, side: int = 120, n: int = 10) -> dict[str, np.ndarray]:
    """Small central crops of real impressions: real ridges, little area, few minutiae."""
    from papilla.shared.formats.images import load_image
    out = {}
    for imp in db.impressions[:: max(1, len(db.impressions) // n)][:n]:
        px = load_image(imp.path).pixels
        h, w = px.shape
        y0, x0 = (h - side) // 2, (w - side) // 2
        out[f"crop{side}_{imp.path.stem}"] = np.ascontiguousarray(px[y0:y0 + side, x0:x0 + side])
    return out


def measure_pixels(pixels: np.ndarray, dpi: int, params=None):
    from papilla.services.extract.engine import UsabilityParams, extract_with_intermediates
    from papilla.services.extract.engine.usability import assess
    _, inter = extract_with_intermediates(pixels, dpi)
    return assess(inter, params or UsabilityParams())


def _row(source: str, name: str, u) -> dict:
    return {"source": source, "name": name, **asdict(u),
            "coherent_fraction": u.coherent_px / u.foreground_px if u.foreground_px else 0.0}


def measure_folder(folder: Path, dpi: int, source: str, progress: bool) -> list[dict]:
    from tqdm import tqdm
    from papilla.shared.formats.images import load_image
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".tif", ".png", ".bmp"))
    return [_row(source, f.stem, measure_pixels(load_image(f).pixels, dpi))
            for f in tqdm(files, desc=source, disable=not progress, leave=False)]


def run(data_dir: Path | None, synth_dirs: list[Path], progress: bool = True) -> list[dict]:
    from tqdm import tqdm
    rows: list[dict] = []
    dbs = data.discover(data_dir) if data_dir else []
    for db in dbs:
        rows += measure_folder(db.path, db.dpi, f"fvc2002 {db.name}", progress)
    for d in synth_dirs:
        rows += measure_folder(d, 500, f"synthetic {d.name}", progress)
    junk = junk_images()
    if dbs:
        junk.update(fvc_crops(dbs[0]))
    for name, px in tqdm(junk.items(), desc="junk", disable=not progress, leave=False):
        rows.append(_row("junk", name, measure_pixels(px, 500)))
    return rows


MEASURES = ("foreground_px", "coherent_px", "coherent_fraction", "period_valid", "minutiae")


def format_table(rows: list[dict]) -> str:
    """Per source: count, rejected (by reason), and min / 1st percentile / median of each measure."""
    lines = ["min / 1st percentile / median of each measure per source", f"{'source':<24} {'n':>4} {'rejected':>8} "
             + " ".join(f"{m:>20}" for m in MEASURES)]
    for src in dict.fromkeys(r["source"] for r in rows):
        rs = [r for r in rows if r["source"] == src]
        rej = sum(1 for r in rs if r["reasons"])
        cells = []
        for m in MEASURES:
            v = np.array([r[m] for r in rs], float)
            fmt = "{:.0f}" if m.endswith(("_px", "minutiae")) else "{:.2f}"
            cells.append(f"{'/'.join(fmt.format(x) for x in (v.min(), np.percentile(v, 1), np.median(v))):>20}")
        lines.append(f"{src:<24} {len(rs):>4} {rej:>8} " + " ".join(cells))
    lines.append("")
    lines.append("rejected images and reasons:")
    for r in rows:
        if r["reasons"]:
            lines.append(f"  {r['source']:<24} {r['name']:<18} {','.join(r['reasons'])}")
    lines.append("junk accepted (should be none):")
    lines += [f"  {r['name']}" for r in rows if r["source"] == "junk" and not r["reasons"]] or ["  none"]
    return "\n".join(lines)


def dump(rows: list[dict], path: Path) -> None:
    path.write_text(json.dumps(rows, indent=0) + "\n")
