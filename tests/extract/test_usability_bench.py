"""`papilla bench usability`: the measurements behind the usable-finger defaults, one JSON object."""
from __future__ import annotations

import json

from papilla.cli import main


def test_usability_bench_accepts_real_impressions_and_rejects_every_junk_image(fvc_dir, tmp_path, capsys):
    db = tmp_path / "DB1_B"
    db.mkdir()
    for name in ("101_1", "102_5"):   # 102_5: 10 minutiae, the fewest of any FVC2002 B impression
        (db / f"{name}.tif").symlink_to(fvc_dir / "DB1_B" / f"{name}.tif")
    assert main(["bench", "usability", "--data", str(db), "--json", "--no-progress"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    real = [r for r in rows if r["source"] == "fvc2002 DB1_B"]
    junk = [r for r in rows if r["source"] == "junk"]
    assert sorted(r["name"] for r in real) == ["101_1", "102_5"] and all(r["reasons"] == [] for r in real)
    assert len(junk) >= 20 and all(r["reasons"] for r in junk)
    assert {r["name"] for r in junk} >= {"black_1000", "flat_grey", "uniform_noise", "crop120_101_1"}
