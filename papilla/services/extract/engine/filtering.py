"""Stage 7: false-minutia removal, one function per rule; each removal is recorded.

Rules, applied in this order (each can be disabled by setting its length/distance to 0):
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

`filter_minutiae` returns the keep-mask and, per raw minutia, the code of the rule that removed it
(`RULES[code]`; 0 = kept). The three ridge-trace rules and the two neighbourhood rules are each decided on
the same survivors (a minutia both a spur and a bridge end is recorded as the first rule listed).
"""
from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from .minutiae import BIFURCATION, ENDING, TRACE_HIT
from .params import FilterParams

#: Removal codes: RULES[code] names the rule; code 0 is a kept minutia.
RULES = ("kept", "invalid", "spur", "short_ridge", "bridge", "broken_ridge", "border", "duplicate", "cluster",
         "low_quality", "over_max")
CODE = {name: k for k, name in enumerate(RULES)}


class Candidates(NamedTuple):
    """The raw minutiae the rules look at (image coordinates, directions atan2(dy, dx))."""
    xs: np.ndarray
    ys: np.ndarray
    kinds: np.ndarray
    ang: np.ndarray
    quality: np.ndarray
    border_dist: np.ndarray
    trace: tuple  # (nbranch, reason, length, hit) of the ridge traces from each minutia


def _remove(removed_by: np.ndarray, gone: np.ndarray, rule: str) -> None:
    """Record `rule` for the minutiae in `gone` that no earlier rule removed."""
    removed_by[gone & (removed_by == 0)] = CODE[rule]


def traced_ridge_rules(c: Candidates, params: FilterParams) -> dict[str, np.ndarray]:
    """Spurs, short ridges and bridges: both ends of a short traced ridge, per rule (masks over the raw)."""
    nbranch, reason, length, hit = c.trace
    n = len(c.xs)
    out = {rule: np.zeros(n, dtype=bool) for rule in ("spur", "short_ridge", "bridge")}
    for i in range(n):
        for b in range(int(nbranch[i])):
            if reason[i, b] != TRACE_HIT:
                continue
            j = int(hit[i, b])
            L = int(length[i, b])
            ki, kj = c.kinds[i], c.kinds[j]
            if ki != kj and L <= params.spur_length:
                rule = "spur"
            elif ki == ENDING and kj == ENDING and L <= params.short_ridge_length:
                rule = "short_ridge"
            elif ki == BIFURCATION and kj == BIFURCATION and L <= params.bridge_length:
                rule = "bridge"
            else:
                continue
            out[rule][i] = out[rule][j] = True
    return out


@nb.njit(cache=True, nogil=True)
def _wrapped(a):
    """|a| wrapped to [0, pi]."""
    d = np.abs(np.arctan2(np.sin(a), np.cos(a)))
    return d


@nb.njit(cache=True, nogil=True)
def _facing_pairs(px, py, pa, gap, tol, near):
    """Per ending, whether another ending lies closer than `gap`, pointing the opposite way (within tol),
    both pointing away from each other along the line joining them (or the two closer than `near`)."""
    n = len(px)
    out = np.zeros(n, dtype=np.bool_)
    g2 = gap * gap
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            dx = px[j] - px[i]
            dy = py[j] - py[i]
            d2 = dx * dx + dy * dy
            if d2 >= g2:
                continue
            if _wrapped(pa[i] - pa[j] - np.pi) >= tol:
                continue
            if d2 < near * near:
                out[i] = True
                continue
            # i's ridge body points away from j: pa[i] ~ direction j -> i; and pa[j] ~ direction i -> j
            if _wrapped(pa[i] - np.arctan2(-dy, -dx)) < tol and _wrapped(pa[j] - np.arctan2(dy, dx)) < tol:
                out[i] = True
    return out


def broken_ridges(c: Candidates, keep: np.ndarray, params: FilterParams) -> np.ndarray:
    """Kept endings facing another kept ending across a gap shorter than `gap_distance`."""
    gone = np.zeros(len(c.xs), dtype=bool)
    idx = np.flatnonzero(keep & (c.kinds == ENDING))
    if params.gap_distance <= 0 or len(idx) < 2:
        return gone
    hit = _facing_pairs(c.xs[idx].astype(np.float64), c.ys[idx].astype(np.float64), c.ang[idx].astype(np.float64),
                        float(params.gap_distance), float(np.deg2rad(params.gap_angle_deg)), 5.0)
    gone[idx[hit]] = True
    return gone


def near_border(c: Candidates, params: FilterParams) -> np.ndarray:
    gone = np.zeros(len(c.xs), dtype=bool)
    if params.border_distance > 0:
        gone = c.border_dist < params.border_distance
    return gone


def crowded(c: Candidates, keep: np.ndarray, params: FilterParams) -> tuple[np.ndarray, np.ndarray]:
    """(duplicates, clusters) among the kept minutiae: a neighbour closer than `duplicate_distance`, or at
    least `cluster_count` neighbours within `cluster_radius`."""
    dup = np.zeros(len(c.xs), dtype=bool)
    clu = np.zeros(len(c.xs), dtype=bool)
    idx = np.flatnonzero(keep)
    if len(idx) < 2:
        return dup, clu
    px, py = c.xs[idx].astype(float), c.ys[idx].astype(float)
    d = np.hypot(px[None, :] - px[:, None], py[None, :] - py[:, None])
    np.fill_diagonal(d, np.inf)
    if params.duplicate_distance > 0:
        dup[idx[(d < params.duplicate_distance).any(axis=1)]] = True
    if params.cluster_radius > 0 and params.cluster_count > 0:
        clu[idx[(d < params.cluster_radius).sum(axis=1) >= params.cluster_count]] = True
    return dup, clu


def beyond_max(c: Candidates, keep: np.ndarray, params: FilterParams) -> np.ndarray:
    """Kept minutiae past the `max_minutiae` best by quality (stable order)."""
    gone = np.zeros(len(c.xs), dtype=bool)
    if params.max_minutiae > 0 and keep.sum() > params.max_minutiae:
        idx = np.flatnonzero(keep)
        order = np.argsort(-c.quality[idx], kind="stable")
        gone[idx[order[params.max_minutiae:]]] = True
    return gone


def filter_minutiae(xs, ys, kinds, ang, valid, quality, border_dist, trace,
                    params: FilterParams = FilterParams()) -> tuple[np.ndarray, np.ndarray]:
    """(keep-mask, removed_by) over the raw minutiae; removed_by[i] is the code (RULES) of the first rule
    that removed minutia i, 0 when it is kept.

    ang: image-space directions (atan2(dy, dx)); border_dist: distance of each minutia to the foreground
    border; trace: (nbranch, reason, length, hit)."""
    c = Candidates(xs, ys, kinds, ang, quality, border_dist, trace)
    removed_by = np.zeros(len(xs), dtype=np.uint8)
    _remove(removed_by, ~valid, "invalid")
    for rule, gone in traced_ridge_rules(c, params).items():
        _remove(removed_by, gone, rule)
    _remove(removed_by, broken_ridges(c, removed_by == 0, params), "broken_ridge")
    _remove(removed_by, near_border(c, params), "border")
    dup, clu = crowded(c, removed_by == 0, params)
    _remove(removed_by, dup, "duplicate")
    _remove(removed_by, clu, "cluster")
    _remove(removed_by, quality < params.min_quality, "low_quality")
    _remove(removed_by, beyond_max(c, removed_by == 0, params), "over_max")
    return removed_by == 0, removed_by
