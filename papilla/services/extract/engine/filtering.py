"""Stage 7: false-minutia removal.

Rules (each can be disabled by setting its length/distance to 0):
  spurs        ending joined to a bifurcation by a short ridge -> both removed
  short ridges ending joined to another ending by a short ridge -> both removed
  bridges      bifurcation joined to a bifurcation by a short ridge (bridge,
               lake, ladder) -> both removed
  broken ridge two endings facing each other across a small gap -> both removed
  borders      minutiae close to the foreground border -> removed
  duplicates   two minutiae almost on the same pixel -> both removed
  clusters     minutiae with many close neighbours (noise) -> removed
  quality      minutiae in low-quality regions -> removed; at most
               `max_minutiae` kept (best quality first)
"""
from __future__ import annotations

import numpy as np

from .minutiae import BIFURCATION, ENDING, TRACE_HIT
from .params import FilterParams


def _angdiff(a, b):
    return np.abs(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b)))))


def filter_minutiae(xs, ys, kinds, ang, valid, quality, border_dist, trace, params: FilterParams = FilterParams()):
    """Return a boolean keep-mask over the raw minutiae.

    ang: image-space directions (atan2(dy, dx)); border_dist: distance of each
    minutia to the foreground border; trace: (nbranch, reason, length, hit).
    """
    nbranch, reason, length, hit = trace
    n = len(xs)
    keep = valid.copy()
    remove = np.zeros(n, dtype=bool)
    for i in range(n):
        for b in range(int(nbranch[i])):
            if reason[i, b] != TRACE_HIT:
                continue
            j = int(hit[i, b])
            L = int(length[i, b])
            ki, kj = kinds[i], kinds[j]
            if ki == ENDING and kj == BIFURCATION and L <= params.spur_length:
                remove[i] = remove[j] = True
            elif ki == BIFURCATION and kj == ENDING and L <= params.spur_length:
                remove[i] = remove[j] = True
            elif ki == ENDING and kj == ENDING and L <= params.short_ridge_length:
                remove[i] = remove[j] = True
            elif ki == BIFURCATION and kj == BIFURCATION and L <= params.bridge_length:
                remove[i] = remove[j] = True
    keep &= ~remove

    # broken ridges: facing endings
    if params.gap_distance > 0:
        idx = np.flatnonzero(keep & (kinds == ENDING))
        if len(idx) > 1:
            px, py, pa = xs[idx].astype(float), ys[idx].astype(float), ang[idx]
            dx = px[None, :] - px[:, None]
            dy = py[None, :] - py[:, None]
            d = np.hypot(dx, dy)
            tol = np.deg2rad(params.gap_angle_deg)
            # i's ridge body points away from j: pa[i] ~ direction j->i
            dir_ji = np.arctan2(-dy, -dx)
            opposite = _angdiff(pa[:, None], pa[None, :] + np.pi) < tol
            aligned = (_angdiff(pa[:, None], dir_ji) < tol) & (_angdiff(pa[None, :], dir_ji.T) < tol)
            pair = (d < params.gap_distance) & opposite & (aligned | (d < 5.0))
            np.fill_diagonal(pair, False)
            gone = pair.any(axis=1)
            keep[idx[gone]] = False

    if params.border_distance > 0:
        keep &= border_dist >= params.border_distance

    if params.duplicate_distance > 0 or params.cluster_radius > 0:
        idx = np.flatnonzero(keep)
        if len(idx) > 1:
            px, py = xs[idx].astype(float), ys[idx].astype(float)
            d = np.hypot(px[None, :] - px[:, None], py[None, :] - py[:, None])
            np.fill_diagonal(d, np.inf)
            gone = np.zeros(len(idx), dtype=bool)
            if params.duplicate_distance > 0:
                gone |= (d < params.duplicate_distance).any(axis=1)
            if params.cluster_radius > 0 and params.cluster_count > 0:
                gone |= (d < params.cluster_radius).sum(axis=1) >= params.cluster_count
            keep[idx[gone]] = False

    keep &= quality >= params.min_quality
    if params.max_minutiae > 0 and keep.sum() > params.max_minutiae:
        idx = np.flatnonzero(keep)
        order = np.argsort(-quality[idx], kind="stable")
        keep[idx[order[params.max_minutiae:]]] = False
    return keep
