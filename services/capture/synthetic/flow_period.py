"""A ridge-period field that follows the ridge flow, so ridges need not end where it diverges.

Ridges of constant period cannot follow a diverging flow: where neighbouring
ridge lines move apart, a new ridge must start (a minutia).  Such forced
minutiae sit where the orientation field diverges, which is in the same
places on every synthetic finger of a class (below a whorl, along a loop's
legs), so two different synthetic fingers share minutiae layouts more often
than two real ones do.  Real ridges widen a little where the flow spreads.

A ridge phase phi with grad(phi) = 2 pi k n (k = 1 / period, n the unit
normal to the ridges) exists only where curl(k n) = 0, that is, along the
ridge direction t = (cos theta, sin theta):

    d(ln k)/dt = -d(theta)/dn

(the ridge lines' rate of spreading).  `flow_period` solves that on a coarse
grid by least squares, with a pull towards the given period field and a
little smoothness, then moves the given field that far towards it
(`coupling`).  Near singular points the equation has no solution (minutiae
belong there), so they are left out.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import lsqr


def _theta_gradient(orientation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d(theta)/dx, d(theta)/dy of an orientation field defined modulo pi."""
    c, s = np.cos(2 * orientation), np.sin(2 * orientation)
    cy, cx = np.gradient(c)
    sy, sx = np.gradient(s)
    return 0.5 * (c * sx - s * cx), 0.5 * (c * sy - s * cy)


def flow_period(orientation: np.ndarray, period: np.ndarray, mask: np.ndarray,
                poles: list[tuple[float, float]], coupling: float, *, step: int = 6,
                pole_radius: float = 30.0, pull: float = 0.08, smooth: float = 0.3,
                limits: tuple[float, float] = (0.8, 1.25)) -> np.ndarray:
    """`period` moved by `coupling` (0..1) towards the period the flow asks for.

    `poles` are the singular points (x, y); within `pole_radius` px of them
    the flow equation is not imposed.  `pull` weighs the given period field
    and `smooth` the gradient of ln(period) (per px of the coarse grid),
    against the flow equation (weight 1).  The result stays within `limits`
    times the given period.
    """
    if coupling <= 0:
        return period
    h, w = orientation.shape
    rows = np.arange(step // 2, h, step)
    cols = np.arange(step // 2, w, step)
    gh, gw = rows.size, cols.size
    theta = orientation[np.ix_(rows, cols)].astype(np.float64)
    dtx, dty = _theta_gradient(theta)
    dtx, dty = dtx / step, dty / step                       # per px
    # spreading of the ridge lines: -d(theta)/dn, n = (-sin, cos)
    spread = -(-np.sin(theta) * dtx + np.cos(theta) * dty)
    inside = ndimage.binary_dilation(mask, iterations=step)[np.ix_(rows, cols)]
    yy, xx = np.meshgrid(rows, cols, indexing="ij")
    near_pole = np.zeros((gh, gw), bool)
    for (x, y) in poles:
        near_pole |= (xx - x) ** 2 + (yy - y) ** 2 < pole_radius ** 2
    log_k0 = -np.log(period[np.ix_(rows, cols)].astype(np.float64))

    index = np.arange(gh * gw).reshape(gh, gw)
    eq_rows, eq_cols, eq_vals, rhs = [], [], [], []

    def add(cols_, vals, b):
        r = len(rhs)
        eq_rows.extend([r] * len(cols_))
        eq_cols.extend(cols_)
        eq_vals.extend(vals)
        rhs.append(b)

    ct, st = np.cos(theta), np.sin(theta)
    for i in range(1, gh - 1):
        for j in range(1, gw - 1):
            if not inside[i, j] or near_pole[i, j]:
                continue
            # t . grad(ln k) by central differences (per px), = spread
            a, b = ct[i, j] / (2 * step), st[i, j] / (2 * step)
            add([index[i, j + 1], index[i, j - 1], index[i + 1, j], index[i - 1, j]],
                [a, -a, b, -b], spread[i, j])
    scale = pull / step
    for i in range(gh):
        for j in range(gw):
            add([index[i, j]], [scale], scale * log_k0[i, j])
            if j + 1 < gw:
                add([index[i, j + 1], index[i, j]], [smooth / step, -smooth / step],
                    smooth / step * (log_k0[i, j + 1] - log_k0[i, j]))
            if i + 1 < gh:
                add([index[i + 1, j], index[i, j]], [smooth / step, -smooth / step],
                    smooth / step * (log_k0[i + 1, j] - log_k0[i, j]))
    a_mat = sparse.csr_matrix((eq_vals, (eq_rows, eq_cols)), shape=(len(rhs), gh * gw))
    log_k = lsqr(a_mat, np.asarray(rhs), x0=log_k0.ravel(), atol=1e-7, btol=1e-7, iter_lim=2000)[0]
    ratio = np.exp(-(log_k.reshape(gh, gw) - log_k0))       # period / given period
    ratio /= np.median(ratio[inside])                         # keep the finger's mean period
    ratio = np.clip(ratio, *limits) ** coupling
    # back to full resolution (coarse samples sit at step//2 + step*i)
    zoom = ndimage.map_coordinates(ratio, np.meshgrid((np.arange(h) - step // 2) / step,
                                                      (np.arange(w) - step // 2) / step, indexing="ij"),
                                   order=1, mode="nearest")
    return (period * zoom).astype(np.float32)
