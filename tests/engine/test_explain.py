"""Explanations: the matcher's stages for one pair, the pairs behind the score, and their drawing."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from papilla.services.extract.engine import extract_with_intermediates
from papilla.services.match import engine
from papilla.services.match.engine import mcc
from papilla.services.match.explain import COUNTED, draw_explanation, explain_pair
from papilla.shared.formats.images import load_image


@pytest.fixture(scope="module")
def sample_pair(data_dir):
    out = []
    for name in ("probe.png", "matching.png"):
        t, inter = extract_with_intermediates(load_image(data_dir / "samples" / name).pixels)
        out.append((t, inter.image))
    return out


def test_explanation_scores_what_compare_scores(db1_templates):
    pairs = [(0, 1), (0, 5), (8, 9), (0, 8), (3, 40), (17, 70)]   # genuine (same finger) and impostor pairs
    for i, j in pairs:
        a, b = db1_templates[i], db1_templates[j]
        e = explain_pair(a, b)
        assert e.score == engine.compare(engine.prepare(a), engine.prepare(b))
        s = e.stages
        counted = [p for p in e.pairs if p.counted]
        assert len(counted) == s.counted <= s.preselected == len(e.pairs) <= s.candidates
        assert s.consolidated == pytest.approx(np.mean([p.relaxed for p in counted]), rel=1e-5)
        assert e.score == pytest.approx(s.consolidated * s.normalisation, rel=1e-6)
        # pairs name real minutiae of each template, one-to-one
        assert len({p.a for p in e.pairs}) == len({p.b for p in e.pairs}) == len(e.pairs)
        assert all(a.minutiae["x"][p.a] == p.a_xy[0] and b.minutiae["y"][p.b] == p.b_xy[1] for p in e.pairs)
        # stage 5: its pairs are one-to-one, one of them the seed, and they set the evidence factor
        assert len(e.aligned) == s.paired <= min(s.cylinders_a, s.cylinders_b)
        assert len({p.a for p in e.aligned}) == len({p.b for p in e.aligned}) == s.paired
        assert sum(p.seed for p in e.aligned) <= 1
        assert s.normalisation == pytest.approx(s.evidence * s.few_cylinders)
        assert s.evidence == pytest.approx(min(1.0, s.paired / mcc.N_EVIDENCE) ** mcc.EVIDENCE_POWER)


def test_a_genuine_pair_is_explained_by_minutiae_that_line_up(sample_pair):
    (ta, _), (tb, _) = sample_pair
    e = explain_pair(ta, tb)
    assert engine.decide(e.score, fmr=1e-4)
    counted = [p for p in e.pairs if p.counted]
    assert len(counted) >= 8
    # the counted pairs agree on one rigid motion: residuals of the best-fitting rotation + translation
    pa = np.array([p.a_xy for p in counted])
    pb = np.array([p.b_xy for p in counted])
    ca, cb = pa - pa.mean(0), pb - pb.mean(0)
    u, _, vt = np.linalg.svd(ca.T @ cb)
    rot = u @ vt
    residual = np.linalg.norm(ca @ rot - cb, axis=1)
    assert np.median(residual) < 6.0
    # stage 5 finds enough minutiae under one rigid motion for the full score, and they line up too
    assert e.stages.paired >= mcc.N_EVIDENCE and e.stages.evidence == 1.0
    pa = np.array([p.a_xy for p in e.aligned])
    pb = np.array([p.b_xy for p in e.aligned])
    ca, cb = pa - pa.mean(0), pb - pb.mean(0)
    u, _, vt = np.linalg.svd(ca.T @ cb)
    assert np.median(np.linalg.norm(ca @ (u @ vt) - cb, axis=1)) < 8.0


def test_drawing_puts_both_prints_side_by_side_with_the_pairs_joined(sample_pair):
    (ta, ia), (tb, ib) = sample_pair
    e = explain_pair(ta, tb)
    png = draw_explanation(e, ta, tb, ia, ib)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.width == ta.width + 24 + tb.width and img.height >= max(ta.height, tb.height)
    px = np.asarray(img)
    gap = px[40:-10, ta.width + 2:ta.width + 22]       # the gap between the prints: only the joining lines
    assert (gap == COUNTED).all(axis=2).any()
    # without images: blank panels, same geometry
    blank = Image.open(io.BytesIO(draw_explanation(e, ta, tb)))
    assert blank.size == img.size


def test_explain_command(data_dir, tmp_path, capsys):
    from papilla.cli import main
    s = data_dir / "samples"
    png = tmp_path / "pair.png"
    assert main(["explain", str(s / "probe.png"), str(s / "matching.png"), "--json", "--png", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["match_at_1e-4"] is True and out["stages"]["counted"] == sum(p["counted"] for p in out["pairs"])
    assert Image.open(png).format == "PNG"
    assert main(["explain", str(s / "probe.png"), str(s / "nonmatching.png")]) == 0
    assert "match at FMR 1e-4: no" in capsys.readouterr().out
    assert main(["explain", str(tmp_path / "missing.png"), str(s / "probe.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("papilla explain:") and "\n" not in err
