"""DET curves as PNG with Pillow (no plotting dependency): FNMR vs FMR on log axes."""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

import math
from pathlib import Path

import numpy as np

from .metrics import det_points

_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def draw_det(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path | str, title: str = "DET") -> None:
    """curves: label -> (genuine scores, impostor scores)."""
    from PIL import Image, ImageDraw

    W, H, L, T, Rm, B = 720, 620, 70, 40, 20, 60
    lo = -4.0  # 1e-4 .. 1
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)

    def px(fmr, fnmr):
        fx = (math.log10(max(fmr, 10 ** lo)) - lo) / -lo
        fy = (math.log10(max(fnmr, 10 ** lo)) - lo) / -lo
        return L + fx * (W - L - Rm), H - B - fy * (H - T - B)

    for e in range(int(lo), 1):
        x, _ = px(10.0 ** e, 1)
        _, y = px(1, 10.0 ** e)
        d.line([(x, T), (x, H - B)], fill=(225, 225, 225))
        d.line([(L, y), (W - Rm, y)], fill=(225, 225, 225))
        d.text((x - 12, H - B + 6), f"1e{e}", fill="black")
        d.text((L - 40, y - 6), f"1e{e}", fill="black")
    d.rectangle([L, T, W - Rm, H - B], outline="black")
    a0, a1 = px(10 ** lo, 10 ** lo), px(1, 1)
    d.line([a0, a1], fill=(200, 200, 200))  # EER diagonal
    d.text((W // 2 - 20, H - 25), "FMR", fill="black")
    d.text((8, T - 25), "FNMR", fill="black")
    d.text((L, 10), title, fill="black")
    for k, (label, (g, i)) in enumerate(curves.items()):
        _, fmr, fnmr = det_points(g, i)
        pts = [px(a, b) for a, b in zip(fmr, fnmr)]
        col = _COLORS[k % len(_COLORS)]
        if len(pts) > 1:
            d.line(pts, fill=col, width=2)
        d.rectangle([W - Rm - 190, T + 10 + 16 * k, W - Rm - 178, T + 20 + 16 * k], fill=col)
        d.text((W - Rm - 172, T + 8 + 16 * k), label, fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
