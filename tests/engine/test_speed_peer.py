"""`papilla bench speed --peer nbis`: papilla's extraction timed against NBIS mindtct on the same images."""
from __future__ import annotations

import pytest

from papilla.bench import speed


def test_peer_timing_reports_both_extractors_on_the_same_images_and_their_ratio(fvc_dir):
    res = speed.peer_extraction(fvc_dir / "DB1_B", n_images=3, repeats=2, progress=False)
    assert res["images"] == 3 and res["repeats"] == 2
    for who in ("papilla", "mindtct"):
        assert 0 < res[f"{who}_ms_min"] <= res[f"{who}_ms_median"]
    assert res["ratio_median"] == pytest.approx(res["papilla_ms_median"] / res["mindtct_ms_median"])
    assert res["target_ratio"] == 0.7


def test_peer_timing_refuses_zero_images_in_one_sentence(capsys):
    from papilla.cli import main
    assert main(["bench", "speed", "--peer", "nbis", "--images", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "--images must be at least 1 (got 0)"
