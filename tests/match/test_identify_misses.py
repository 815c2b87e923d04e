"""Where a planted mate is lost: the first stage that lost it, and the breakdown's counts and bounds."""
from __future__ import annotations

from papilla.bench.identify_misses import breakdown, cause


def test_the_first_stage_that_lost_the_mate_is_named():
    one_to_one, one_to_many = 4.0, 9.0
    assert cause(True, True, 12.0, one_to_one, one_to_many) == "hit"
    assert cause(False, False, 12.0, one_to_one, one_to_many) == "index"      # a full scan would have found it
    assert cause(False, True, 12.0, one_to_one, one_to_many) == "limit"       # named, passes, outscored
    assert cause(False, False, 2.0, one_to_one, one_to_many) == "matcher"     # no share would find it
    assert cause(False, True, 6.0, one_to_one, one_to_many) == "decision"     # 1:1 yes, 1:N at the FPIR no


def test_breakdown_counts_bounds_and_the_full_scan_ceiling():
    b = breakdown(["hit"] * 90 + ["index"] * 6 + ["matcher"] * 3 + ["decision"], 4.0, 9.0)
    assert b["probes"] == 100 and b["counts"] == {"hit": 90, "index": 6, "matcher": 3, "decision": 1, "limit": 0}
    assert b["hit_rate"] == 0.9 and 0.83 < b["hit_lower95"] < 0.9
    assert b["full_scan_hit_rate"] == 0.96 and b["full_scan_hit_lower95"] < 0.96
