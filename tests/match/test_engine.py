"""Matcher behaviour the match worker and its users depend on."""
from __future__ import annotations

import math

import numpy as np
import pytest

from papilla.services.match import engine
from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate


def random_template(seed: int, n: int = 40, w: int = 320, h: int = 400) -> FingerTemplate:
    rng = np.random.default_rng(seed)
    m = np.zeros(n, MINUTIA_DTYPE)
    # keep minutiae apart like real ones (>= 10 px)
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        p = (rng.uniform(30, w - 30), rng.uniform(30, h - 30))
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= 100 for q in pts):
            pts.append(p)
    m["x"], m["y"] = np.array(pts).T
    m["angle"] = rng.uniform(0, 2 * np.pi, n)
    m["kind"] = rng.integers(1, 3, n)
    m["quality"] = rng.integers(40, 100, n)
    return FingerTemplate(width=w, height=h, minutiae=m, quality=70)


def transformed(t: FingerTemplate, deg: float, dx: float, dy: float, seed: int = 0, jitter: float = 0.0,
                drop: float = 0.0, extra: int = 0) -> FingerTemplate:
    """Rigid transform of the minutiae (rotation `deg` counter-clockwise on screen about the centre)."""
    rng = np.random.default_rng(seed)
    m = t.minutiae.copy()
    phi = math.radians(deg)
    cx, cy = t.width / 2, t.height / 2
    X, Y = m["x"] - cx, -(m["y"] - cy)          # math frame (y up)
    Xr = math.cos(phi) * X - math.sin(phi) * Y
    Yr = math.sin(phi) * X + math.cos(phi) * Y
    m["x"] = Xr + cx + dx + rng.normal(0, jitter, len(m))
    m["y"] = -Yr + cy + dy + rng.normal(0, jitter, len(m))
    m["angle"] = np.mod(m["angle"] + phi + rng.normal(0, math.radians(4 * jitter), len(m)), 2 * np.pi)
    if drop:
        m = m[rng.random(len(m)) >= drop]
    if extra:
        e = random_template(seed + 1000, extra).minutiae
        e["x"] += dx
        e["y"] += dy
        m = np.concatenate([m, e])
    return FingerTemplate(width=t.width, height=t.height, minutiae=m.astype(MINUTIA_DTYPE), quality=t.quality)


@pytest.fixture(scope="module")
def thr():
    return engine.thresholds()


def test_self_match_scores_high(thr):
    p = engine.prepare(random_template(1))
    s = engine.compare(p, p)
    assert s >= thr.finger_fmr_1e4
    assert s > 5 * thr.finger_fmr_1e4


@pytest.mark.parametrize("deg,dx,dy", [(0, 40, -25), (30, 0, 0), (-45, 20, 35), (90, -30, 10), (-75, 0, 0)])
def test_rigidly_moved_copy_matches(thr, deg, dx, dy):
    t = random_template(2)
    a = engine.prepare(t)
    b = engine.prepare(transformed(t, deg, dx, dy))
    assert engine.compare(a, b) >= thr.finger_fmr_1e4
    assert engine.decide(engine.compare(b, a), fmr=1e-4)


def test_noisy_partial_copy_matches(thr):
    t = random_template(3, n=45)
    b = transformed(t, 20, 15, -10, seed=3, jitter=2.0, drop=0.25, extra=6)
    assert engine.compare(engine.prepare(t), engine.prepare(b)) >= thr.finger_fmr_1e4


def test_unrelated_templates_score_low(thr):
    preps = [engine.prepare(random_template(100 + k)) for k in range(12)]
    scores = [engine.compare(preps[i], preps[j]) for i in range(12) for j in range(i + 1, 12)]
    assert max(scores) < thr.finger_fmr_1e4
    assert not any(engine.decide(s, fmr=1e-4) for s in scores)


def test_compare_is_nearly_symmetric():
    a = engine.prepare(random_template(4))
    b = engine.prepare(transformed(random_template(4), 10, 5, 5, seed=4, jitter=1.5, drop=0.2))
    assert engine.compare(a, b) == pytest.approx(engine.compare(b, a), rel=0.15, abs=1e-3)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_empty_and_tiny_templates_score_zero(n):
    tiny = FingerTemplate(width=300, height=300, minutiae=random_template(5).minutiae[:n])
    normal = engine.prepare(random_template(5))
    pt = engine.prepare(tiny)
    assert engine.compare(pt, normal) == 0.0
    assert engine.compare(normal, pt) == 0.0
    assert engine.compare(pt, pt) == 0.0
    assert engine.PreparedTemplate.from_bytes(pt.to_bytes()).to_bytes() == pt.to_bytes()
    assert list(engine.compare_many(pt, [normal, pt])) == [0.0, 0.0]


def test_compare_many_equals_compare():
    probe = engine.prepare(random_template(6))
    gallery = [engine.prepare(random_template(200 + k)) for k in range(5)]
    gallery.insert(2, engine.prepare(transformed(random_template(6), 15, 10, 0)))
    many = engine.compare_many(probe, gallery)
    one = [engine.compare(probe, g) for g in gallery]
    assert many.shape == (6,)
    assert np.allclose(many, one, atol=1e-6)
    assert int(np.argmax(many)) == 2
    assert np.allclose(engine.compare_many(probe, engine.pack(gallery)), many)
    assert engine.compare_many(probe, []).shape == (0,)


def test_bytes_round_trip():
    p = engine.prepare(random_template(7))
    b = p.to_bytes()
    q = engine.PreparedTemplate.from_bytes(b)
    assert q.to_bytes() == b
    assert np.array_equal(q.cyl, p.cyl) and np.allclose(q.geo, p.geo)
    assert engine.compare(p, q) == pytest.approx(engine.compare(p, p), rel=1e-6)


def test_other_version_is_refused():
    b = engine.prepare(random_template(8)).to_bytes()
    v = engine.ENGINE_VERSION.encode()
    other = b.replace(v, b"x" * len(v), 1)
    with pytest.raises(engine.TemplateVersionError, match="prepare it again"):
        engine.PreparedTemplate.from_bytes(other)
    with pytest.raises(ValueError, match="magic"):
        engine.PreparedTemplate.from_bytes(b"JUNK" + b[4:])
    with pytest.raises(ValueError):
        engine.PreparedTemplate.from_bytes(b[:-3])


def test_thresholds_loaded_for_this_engine(thr):
    assert thr.engine_version == engine.ENGINE_VERSION
    assert thr.calibrated_on
    assert 0 < thr.finger_fmr_1e2 <= thr.finger_fmr_1e3 <= thr.finger_fmr_1e4
    assert 0 < thr.fused_fmr_1e2 <= thr.fused_fmr_1e3 <= thr.fused_fmr_1e4
    assert thr.finger(1e-3) == thr.finger_fmr_1e3 and thr.fused(1e-4) == thr.fused_fmr_1e4
    with pytest.raises(ValueError):
        thr.finger(0.5)


def test_fuse_handles_missing_fingers(thr):
    hi, lo = thr.finger_fmr_1e4 * 1.5, 0.0
    assert engine.fuse({}) == 0.0
    one = engine.fuse({"R2": hi})
    assert one > 0
    # absent fingers are neutral; more matching fingers = more evidence; a zero finger adds little
    assert engine.fuse({"R2": hi, "L2": hi}) > one
    assert engine.fuse({"R2": hi, "L2": lo}) <= one
    ten = {f"{h}{k}": hi for h in "RL" for k in range(1, 6)}
    assert engine.decide(engine.fuse(ten), fmr=1e-4, fused=True)
    assert engine.fuse({"R1": lo, "R2": lo, "L1": lo}) < thr.fused_fmr_1e2
    nan = engine.fuse({"R1": hi, "R2": float("nan")})
    assert nan == pytest.approx(one)
    # a single finger at its own 1e-4 threshold is about 4 on the fused scale
    assert engine.fuse({"R1": thr.finger_fmr_1e4}) == pytest.approx(4.0, abs=0.5)


def test_fused_score_is_a_calibrated_false_match_rate_under_independent_impostors():
    rng = np.random.default_rng(3)
    for fingers in (1, 3, 10):
        fused = np.array([engine.combine_neg_log10_p((-np.log10(rng.uniform(size=fingers))).tolist())
                          for _ in range(40_000)])
        for level in (2, 3):   # FMR 1e-2, 1e-3 (at or beyond the truncation point 0.01)
            rate = (fused >= level).mean()
            assert 0.6 * 10 ** -level < rate < 1.4 * 10 ** -level, (fingers, level, rate)


def test_many_mildly_similar_impostor_fingers_do_not_add_up_to_a_match():
    # ten fingers each at an impostor tail probability of 5 %: no single one is evidence
    assert engine.combine_neg_log10_p([-np.log10(0.05)] * 10) == 0.0
    # one finger far in the tail still counts among nine unremarkable ones
    assert engine.combine_neg_log10_p([8.0] + [0.1] * 9) > 4.0


def test_fused_threshold_extends_below_the_calibrated_range_for_large_galleries(thr):
    assert thr.fused(1e-4) == thr.fused_fmr_1e4
    assert thr.fused(1e-8) == pytest.approx(8.0 + max(0.0, thr.fused_fmr_1e4 - 4.0))
    assert thr.fused(1e-9) > thr.fused(1e-8) > thr.fused(1e-4)


def test_one_to_many_cut_scales_with_the_gallery():
    from papilla.services.match.matching import one_to_many_fmr

    assert one_to_many_fmr(1e-3, 1e-2, 5) == 1e-3                 # small gallery: the per-comparison cap
    assert one_to_many_fmr(1e-3, 1e-2, 10_000_000) == pytest.approx(1e-9)
