"""The matcher as named stages scores exactly like the single kernel it replaced.

`reference_mcc.py` beside this test is a frozen copy of `mcc.py` before the split (commit b6fde26: one
209-line `score_pair` over an 18-array scratch tuple); the staged kernel must give bit-identical scores on
every pair of FVC2002 DB1_B and on random impostor templates, through each entry point.
"""
from __future__ import annotations

import numpy as np

from papilla.services.match import engine
from papilla.services.match.engine import mcc

from . import reference_mcc
from .synthetic import random_minutiae_template


def _all_pairs(n):
    a, b = np.triu_indices(n, 1)
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def test_staged_kernel_scores_every_db1_pair_like_the_reference(db1_packed):
    p = db1_packed
    a, b = _all_pairs(len(p))
    new = mcc.compare_pairs(p.geo, p.cyl, p.offsets, a, b)
    ref = reference_mcc.compare_pairs(p.geo, p.cyl, p.offsets, a, b)
    assert len(new) == 3160 and (new > 0).mean() > 0.9
    assert np.array_equal(new, ref), f"{int((new != ref).sum())} of {len(new)} pairs differ"
    # and the other way round (the kernel is not symmetric in its tie-breaking)
    assert np.array_equal(mcc.compare_pairs(p.geo, p.cyl, p.offsets, b, a),
                          reference_mcc.compare_pairs(p.geo, p.cyl, p.offsets, b, a))


def test_staged_kernel_scores_random_impostors_like_the_reference(db1_packed):
    rand = [engine.prepare(random_minutiae_template(500 + k, n=20 + k)) for k in range(40)]
    packed = engine.pack(rand)
    for probe in rand[:10]:
        new = mcc.compare_to_gallery(probe.geo, probe.cyl, packed.geo, packed.cyl, packed.offsets)
        ref = reference_mcc.compare_to_gallery(probe.geo, probe.cyl, packed.geo, packed.cyl, packed.offsets)
        assert np.array_equal(new, ref)
        real = mcc.compare_to_gallery(probe.geo, probe.cyl, db1_packed.geo, db1_packed.cyl, db1_packed.offsets)
        assert np.array_equal(real, reference_mcc.compare_to_gallery(
            probe.geo, probe.cyl, db1_packed.geo, db1_packed.cyl, db1_packed.offsets))
    one = [engine.compare(rand[0], t) for t in rand]
    assert np.array_equal(np.float32(one), engine.compare_many(rand[0], packed))
