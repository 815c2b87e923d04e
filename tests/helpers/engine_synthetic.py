"""Random minutiae templates for the engine tests."""
from __future__ import annotations

import numpy as np

from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate


def random_minutiae_template(seed: int, n: int = 40, w: int = 320, h: int = 400) -> FingerTemplate:
    """Minutiae at random places (>= 10 px apart), directions and qualities: an impostor for any real print."""
    rng = np.random.default_rng(seed)
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        p = (rng.uniform(30, w - 30), rng.uniform(30, h - 30))
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= 100 for q in pts):
            pts.append(p)
    m = np.zeros(n, MINUTIA_DTYPE)
    m["x"], m["y"] = np.array(pts).T
    m["angle"] = rng.uniform(0, 2 * np.pi, n)
    m["kind"] = rng.integers(1, 3, n)
    m["quality"] = rng.integers(40, 100, n)
    return FingerTemplate(width=w, height=h, minutiae=m, quality=70)
