"""False-minutia removal: one rule per function, and each removal recorded against its rule."""
from __future__ import annotations

import numpy as np

from papilla.services.extract.engine import extract_with_intermediates
from papilla.services.extract.engine.filtering import RULES, filter_minutiae
from papilla.services.extract.engine.minutiae import BIFURCATION, ENDING, TRACE_HIT
from papilla.services.extract.engine.params import FilterParams
from papilla.shared.formats.images import load_image


def _run(xs, ys, kinds, ang, *, border=None, quality=None, hits=(), params=FilterParams()):
    n = len(xs)
    nbranch = np.zeros(n, np.int64)
    reason = np.zeros((n, 3), np.int64)
    length = np.zeros((n, 3), np.int64)
    hit = np.zeros((n, 3), np.int64)
    for i, j, L in hits:
        b = nbranch[i]
        reason[i, b], length[i, b], hit[i, b] = TRACE_HIT, L, j
        nbranch[i] += 1
    keep, removed_by = filter_minutiae(
        np.asarray(xs), np.asarray(ys), np.asarray(kinds), np.asarray(ang, float), np.ones(n, bool),
        np.asarray(quality if quality is not None else [80] * n), np.asarray(border or [100.0] * n, float),
        (nbranch, reason, length, hit), params)
    assert np.array_equal(keep, removed_by == 0)
    return [RULES[k] for k in removed_by]


def test_each_rule_records_what_it_removed():
    E, B = ENDING, BIFURCATION
    # a spur (ending -> bifurcation, 8 px), a short ridge (two endings, 10 px), a bridge (two bifurcations),
    # and one minutia far from everything
    xs, ys = [50, 58, 150, 160, 250, 258, 400], [50, 50, 150, 150, 250, 250, 400]
    kinds = [E, B, E, E, B, B, E]
    got = _run(xs, ys, kinds, [0.0, 0, 0, 0, 0, 0, 1.0], hits=[(0, 1, 8), (2, 3, 10), (4, 5, 8)])
    assert got == ["spur", "spur", "short_ridge", "short_ridge", "bridge", "bridge", "kept"]
    # two endings facing each other across a 10 px gap (directions opposite, along the gap)
    assert _run([100, 110, 300], [100, 100, 300], [E, E, E], [np.pi, 0.0, 1.0]) == ["broken_ridge"] * 2 + ["kept"]
    # near the border; two on almost the same pixel; too low a quality; more than max_minutiae
    assert _run([100, 300], [100, 300], [E, B], [0, 0], border=[5.0, 50.0]) == ["border", "kept"]
    assert _run([100, 102, 300], [100, 101, 300], [E, B, E], [0, 2, 0]) == ["duplicate", "duplicate", "kept"]
    strict = FilterParams(min_quality=50, max_minutiae=1)
    assert _run([100, 200, 300], [100, 200, 300], [E, B, E], [0, 1, 2], quality=[40, 60, 90],
                params=strict) == ["low_quality", "over_max", "kept"]


def test_intermediates_record_every_removal_of_a_real_print(data_dir):
    px = load_image(data_dir / "samples" / "probe.png").pixels
    t, inter = extract_with_intermediates(px)
    assert inter.removed_by.shape == (len(inter.raw_minutiae),)
    assert np.array_equal(inter.raw_minutiae[inter.removed_by == 0], t.minutiae)
    rules = {RULES[k] for k in np.unique(inter.removed_by)}
    assert "kept" in rules and len(rules) >= 4   # a real print loses minutiae to several rules
