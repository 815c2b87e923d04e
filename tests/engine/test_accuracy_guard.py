"""CI guard on the engine's accuracy: FVC2002 B, all four databases, all pairs (12,640 comparisons per
database), extracted fresh by the current extractor and scored by the current matcher.

The recorded figure and the command that produced it are in `papilla/bench/accuracy-record.json`
(`papilla bench accuracy --record`). This test fails when the mean EER rises more than 0.3 points over it
(or one database more than 0.75 points): an engine change that loses accuracy must either be fixed or
re-record the figure, visibly, in the same commit. ~15 s of extraction and 50k comparisons.
"""
from __future__ import annotations

import pytest

from papilla.bench import accuracy, record
from papilla.services.match import engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def measured(fvc_dir, tmp_path_factory):
    # a private template cache: the figure is always of the extractor in this checkout
    mp = pytest.MonkeyPatch()
    mp.setenv("PAPILLA_BENCH_CACHE", str(tmp_path_factory.mktemp("bench-cache")))
    try:
        yield accuracy.run(fvc_dir, progress=False)
    finally:
        mp.undo()


def test_the_record_is_of_this_engine():
    rec = record.load_record()
    assert rec["engine_version"] == engine.ENGINE_VERSION, (
        "accuracy-record.json is of another matcher version: run `papilla bench accuracy --record`")
    assert rec["protocol"] == "all" and set(rec["eer"]) == {"DB1_B", "DB2_B", "DB3_B", "DB4_B"}


def test_all_pairs_mean_eer_does_not_rise_over_the_record(measured):
    rec = record.load_record()
    block = measured["protocols"]["all"]
    assert set(block["databases"]) == set(rec["eer"])
    mean = block["mean"]["eer"]
    assert mean <= rec["mean_eer"] + record.GUARD_MARGIN, (
        f"all-pairs mean EER {100 * mean:.3f} % against the recorded {100 * rec['mean_eer']:.3f} % "
        f"({rec['command']}, {rec['recorded_on']})")
    for name, eer in rec["eer"].items():
        got = block["databases"][name]["eer"]
        assert got <= eer + record.GUARD_MARGIN_PER_DB, f"{name}: EER {100 * got:.3f} % against {100 * eer:.3f} %"
