"""A labelled montage to judge the generator by eye.

    python -m papilla.services.capture.synthetic.montage docs/synthetic-montage.png
    python -m papilla.services.capture.synthetic.montage --profiles docs/img/synthetic-profiles.png

Top rows: masters of each class (ridge pattern cropped to 320x400 around the
pad, cores marked with red circles, deltas with green triangles).  Bottom
rows: impressions of one finger (the same master) as a scanner would give them.
"""
from __future__ import annotations

import sys

import numpy as np
from PIL import Image, ImageDraw

from .impression import impression
from .master import master_fingerprint
from .params import FINGER_CLASSES
from .profiles import PROFILES

TILE_W, TILE_H, LABEL = 320, 400, 22


def _master_tile(m) -> tuple[Image.Image, tuple[float, float]]:
    ink = np.clip((m.ridges + 0.35) / 0.7, 0, 1)
    gray = (235 - 200 * ink).astype(np.uint8)
    gray[~m.mask] = 235
    cx, cy = m.center
    x0 = int(np.clip(cx - TILE_W / 2, 0, m.shape[1] - TILE_W))
    y0 = int(np.clip(cy - 0.12 * m.size[1] - TILE_H / 2, 0, m.shape[0] - TILE_H))
    tile = Image.fromarray(gray[y0:y0 + TILE_H, x0:x0 + TILE_W]).convert("RGB")
    d = ImageDraw.Draw(tile)
    for x, y in m.cores:
        x, y = x - x0, y - y0
        d.ellipse([x - 9, y - 9, x + 9, y + 9], outline=(220, 30, 30), width=3)
    for x, y in m.deltas:
        x, y = x - x0, y - y0
        d.polygon([(x, y - 11), (x - 10, y + 8), (x + 10, y + 8)], outline=(20, 170, 40), width=3)
    return tile, (x0, y0)


def make_montage(path: str, seeds_per_class: int = 2, impressions: int = 10, base_seed: int = 2024) -> None:
    cols = len(FINGER_CLASSES)
    imp_rows = (impressions + cols - 1) // cols
    rows = seeds_per_class + imp_rows
    canvas = Image.new("RGB", (cols * TILE_W, rows * (TILE_H + LABEL)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, cls in enumerate(FINGER_CLASSES):
        for r in range(seeds_per_class):
            m = master_fingerprint(base_seed + 100 * c + r, cls)
            tile, _ = _master_tile(m)
            x, y = c * TILE_W, r * (TILE_H + LABEL)
            canvas.paste(tile, (x, y + LABEL))
            draw.text((x + 6, y + 5), f"master {cls.replace('_', ' ')} (seed {m.seed}, "
                      f"period {m.mean_period:.1f}px)", fill=(0, 0, 0))
    m = master_fingerprint(base_seed + 7, "right_loop")
    for k in range(impressions):
        img = impression(m, k + 1)
        x = (k % cols) * TILE_W
        y = (seeds_per_class + k // cols) * (TILE_H + LABEL)
        canvas.paste(Image.fromarray(img).convert("RGB"), (x, y + LABEL))
        draw.text((x + 6, y + 5), f"impression {k + 1} of master {m.seed} (right loop)", fill=(0, 0, 0))
    for c in range(1, cols):
        draw.line([(c * TILE_W, 0), (c * TILE_W, canvas.height)], fill=(255, 255, 255), width=2)
    canvas.save(path, optimize=True)


def make_profile_montage(path: str, impressions: int = 4, base_seed: int = 2024) -> None:
    """One row per impression profile (`profiles.PROFILES`): the same impressions (seeds 1..n) of one master."""
    m = master_fingerprint(base_seed + 7, "right_loop")
    canvas = Image.new("RGB", (impressions * TILE_W, len(PROFILES) * (TILE_H + LABEL)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, (name, params) in enumerate(PROFILES.items()):
        for k in range(impressions):
            x, y = k * TILE_W, r * (TILE_H + LABEL)
            canvas.paste(Image.fromarray(impression(m, k + 1, params)).convert("RGB"), (x, y + LABEL))
            draw.text((x + 6, y + 5), f"profile {name}: impression {k + 1} of master {m.seed}", fill=(0, 0, 0))
    canvas.save(path, optimize=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--profiles":
        make_profile_montage(sys.argv[2])
    else:
        make_montage(sys.argv[1] if len(sys.argv) > 1 else "synthetic-montage.png")
