"""Cheap smooth random fields shared by masters and impressions."""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _bspline_matrix(n: int, g: int) -> np.ndarray:
    """(n, g) weights of a cubic B-spline through g coarse knots spanning n samples."""
    u = np.linspace(1.0, g - 2.0, n)          # keep one knot of margin each side
    k = np.arange(g)[None, :]
    d = np.abs(u[:, None] - k)
    wgt = np.where(d < 1, 2 / 3 - d ** 2 + d ** 3 / 2, np.where(d < 2, (2 - d) ** 3 / 6, 0.0))
    return wgt.astype(np.float32)


def smooth_noise(rng, shape, scale: float) -> np.ndarray:
    """Smooth random field, zero mean, unit std, correlation length ~scale px.

    Cheap: random knots on a coarse grid, cubic B-spline interpolated by two
    small matrix products.
    """
    h, w = shape
    gh, gw = int(np.ceil(h / scale)) + 3, int(np.ceil(w / scale)) + 3
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    # einsum, not BLAS: thread start-up of a BLAS call costs more than these tiny products
    fine = np.einsum("jk,lk->jl", np.einsum("ij,jk->ik", _bspline_matrix(h, gh), coarse),
                     _bspline_matrix(w, gw))
    fine -= fine.mean()
    sd = float(fine.std())
    return fine / sd if sd > 0 else fine
