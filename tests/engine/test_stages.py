"""The matcher as named stages scores exactly like the single kernel it replaced.

`reference_mcc.py` beside this test is a frozen copy of `mcc.py` before the split (commit b6fde26: one
209-line `score_pair` over an 18-array scratch tuple, final factor min(1, n / 20)). The staged kernel's
stages 1-4 (`mcc.consolidated_pairs`) times that factor must give the reference's scores bit for bit on every
pair of FVC2002 DB1_B and on random impostor templates. The normalisation changed in lssr-6 and again in
lssr-7 (stage 6: by the minutiae stage 5 pairs under one rigid transform), so the final score is checked
against stages 1-5's figures on their own.
"""
from __future__ import annotations

import numpy as np

from papilla.bench import data
from papilla.services.match import engine
from papilla.services.match.engine import mcc

from . import reference_mcc
from tests.helpers.engine_synthetic import random_minutiae_template


def _reference_normalised(packed, left, right, consolidated):
    """The reference kernel's last line, `float(s) / np_ * min(1.0, nmin / 20)`, on the staged kernel's LSS-R."""
    sizes = np.diff(packed.offsets)
    nmin = np.minimum(sizes[left], sizes[right]).astype(np.float64)
    return (consolidated * np.minimum(1.0, nmin / reference_mcc.N_FULL)).astype(np.float32)


def _check_pairs(packed, left, right):
    left, right = np.ascontiguousarray(left), np.ascontiguousarray(right)
    ref = reference_mcc.compare_pairs(packed.geo, packed.cyl, packed.offsets, left, right)
    lssr = mcc.consolidated_pairs(packed.geo, packed.cyl, packed.offsets, left, right)
    got = _reference_normalised(packed, left, right, lssr)
    assert np.array_equal(got, ref), f"{int((got != ref).sum())} of {len(ref)} pairs differ"
    return ref


def test_staged_kernel_scores_every_db1_pair_like_the_reference(db1_packed):
    a, b = np.triu_indices(len(db1_packed), 1)
    ref = _check_pairs(db1_packed, a, b)
    assert len(ref) == 3160 and (ref > 0).mean() > 0.9
    _check_pairs(db1_packed, b, a)   # and the other way round (tie-breaking is not symmetric)


def test_staged_kernel_scores_random_impostors_like_the_reference(db1_templates):
    rand = [random_minutiae_template(500 + k, n=20 + k) for k in range(40)]
    packed = engine.pack([engine.prepare(t) for t in rand + db1_templates[:40]])
    a, b = np.meshgrid(np.arange(10), np.arange(80), indexing="ij")
    _check_pairs(packed, a.ravel(), b.ravel())


def test_score_is_the_consolidated_similarity_times_the_evidence_and_few_cylinder_factors(db1_packed):
    a, b = np.triu_indices(len(db1_packed), 1)
    a, b = np.ascontiguousarray(a[:500]), np.ascontiguousarray(b[:500])
    p = db1_packed
    sizes = np.diff(p.offsets)
    nmin = np.minimum(sizes[a], sizes[b]).astype(np.float64)
    lssr = mcc.consolidated_pairs(p.geo, p.cyl, p.offsets, a, b)
    paired = mcc.paired_pairs(p.geo, p.cyl, p.offsets, a, b)
    assert (paired <= nmin).all() and (paired > 0).any()
    want = (lssr * np.minimum(1.0, paired / mcc.N_EVIDENCE) ** mcc.EVIDENCE_POWER
            * np.minimum(1.0, nmin / mcc.N_FULL) ** mcc.FEW_POWER).astype(np.float32)
    assert np.array_equal(mcc.compare_pairs(p.geo, p.cyl, p.offsets, a, b), want)


def test_global_pairing_pairs_more_minutiae_of_the_same_finger(db1_packed, fvc_dir):
    """Stage 5 is the evidence the score rests on: other impressions of the same finger pair many minutiae
    under one rigid transform, other fingers few (FVC2002 DB1_B, all pairs)."""
    a, b = np.triu_indices(len(db1_packed), 1)
    paired = mcc.paired_pairs(db1_packed.geo, db1_packed.cyl, db1_packed.offsets, np.ascontiguousarray(a),
                              np.ascontiguousarray(b))
    finger = np.array([i.finger for i in data.discover(fvc_dir / "DB1_B")[0].impressions])   # templates' order
    genuine = finger[a] == finger[b]
    assert genuine.sum() == 280
    assert np.median(paired[genuine]) > np.quantile(paired[~genuine], 0.99)
    assert np.median(paired[~genuine]) < mcc.N_EVIDENCE / 2


def test_entry_points_agree(db1_packed):
    rand = [engine.prepare(random_minutiae_template(900 + k, n=12 + 2 * k)) for k in range(20)]
    packed = engine.pack(rand)
    one = [engine.compare(rand[0], t) for t in rand]
    assert np.array_equal(np.float32(one), engine.compare_many(rand[0], packed))
