"""Finger images for the adjudicator, with the minutiae of the stored template drawn on them.

Endings are drawn in red, bifurcations in blue: a circle at the minutia and a tick along its direction
(`shared.template`: angle counter-clockwise from +x as seen on screen, coordinates at 500 dpi, scaled here to
the image's own size). Paired minutiae (which minutia of one print the matcher paired with which of the
other, and the stage figures behind the score) are the matcher's to explain: `paired_drawing` asks
`services/match/explain.py` and returns its drawing of both prints side by side."""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw

from papilla.services.match.explain import Explanation, draw_explanation, explain_pair
from papilla.shared.template import FingerTemplate, MinutiaKind

COLOURS = {MinutiaKind.ENDING: (200, 20, 30), MinutiaKind.BIFURCATION: (20, 70, 200)}
OTHER = (0, 130, 60)
TICK = 12          # pixels along the minutia's direction (at the image's scale)


def with_minutiae(png: bytes, template: FingerTemplate | None) -> bytes:
    """The image as RGB PNG, the template's minutiae drawn over it (just the image without a template)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if template is not None and len(template.minutiae):
        sx, sy = image.width / max(template.width, 1), image.height / max(template.height, 1)
        draw = ImageDraw.Draw(image)
        for m in template.minutiae:
            x, y, colour = float(m["x"]) * sx, float(m["y"]) * sy, COLOURS.get(int(m["kind"]), OTHER)
            angle = float(m["angle"])
            draw.ellipse((x - 4, y - 4, x + 4, y + 4), outline=colour, width=2)
            draw.line((x, y, x + TICK * math.cos(angle), y - TICK * math.sin(angle)), fill=colour, width=2)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _grey(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def paired_drawing(probe_png: bytes, probe: FingerTemplate, candidate_png: bytes,
                   candidate: FingerTemplate) -> tuple[bytes, Explanation]:
    """Both prints side by side with the matcher's paired minutiae joined (PNG: green pairs count in the score,
    orange ones were pre-selected only), and the explanation it draws (score, stage figures, pairs)."""
    explanation = explain_pair(probe, candidate)
    return draw_explanation(explanation, probe, candidate, _grey(probe_png), _grey(candidate_png)), explanation
