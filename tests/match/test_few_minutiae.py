"""Few-minutiae templates (issue 8 defect 5, issue 20): a pair scores less on little evidence.

With a handful of minutiae MCC's n_P falls to 4 and a few lucky local matches scored like a genuine match;
since lssr-7 the score keeps min(1, paired / N_EVIDENCE) ** EVIDENCE_POWER of itself (paired: minutiae paired
under one rigid transform, at most the smaller template's n valid cylinders) and (n / N_FULL) ** FEW_POWER
below N_FULL cylinders (figures: docs/engine.md, docs/usable-fingers.md).
"""
from __future__ import annotations

import pytest

from papilla.bench.contacts import central
from papilla.services.extract.engine import extract
from papilla.services.match import engine
from papilla.services.match.engine import mcc
from papilla.shared.formats.images import load_image
from papilla.shared.template import FingerTemplate


@pytest.fixture(scope="module")
def template(fvc_dir) -> FingerTemplate:
    t = extract(load_image(fvc_dir / "DB1_B" / "101_1.tif").pixels, 500)
    assert len(t.minutiae) > mcc.N_FULL
    return t


def cut(t: FingerTemplate, k: int) -> engine.PreparedTemplate:
    return engine.prepare(FingerTemplate(t.width, t.height, central(t.minutiae, k), t.quality, t.dpi))


def test_a_small_template_cannot_score_above_its_share_even_against_itself(template):
    for k in (6, 8, 12, 16):
        small = cut(template, k)
        assert 0 < len(small) <= k
        n = len(small)
        cap = min(1.0, n / mcc.N_FULL) ** mcc.FEW_POWER * min(1.0, n / mcc.N_EVIDENCE) ** mcc.EVIDENCE_POWER
        if n < mcc.N_EVIDENCE:
            assert cap < 1.0
        assert engine.compare(small, small) <= cap + 1e-6
        assert engine.compare(small, engine.prepare(template)) <= cap + 1e-6


def test_templates_with_enough_cylinders_are_not_shrunk(template):
    full = engine.prepare(template)
    assert len(full) >= mcc.N_FULL
    assert engine.compare(full, full) == pytest.approx(1.0, abs=1e-3)
