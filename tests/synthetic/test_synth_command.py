"""`papilla synth`: FVC layout, dpi.json, resume after a crash, refusal to mix seeds."""
from __future__ import annotations

import json

from PIL import Image

from papilla.cli import main


def test_synth_writes_fvc_layout_and_resumes(tmp_path):
    out = tmp_path / "SYN"
    args = ["synth", "--people", "1", "--impressions", "2", "--out", str(out), "--seed", "3", "--quiet"]
    assert main(args) == 0
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == sorted(f"{f}_{k}.png" for f in range(1, 11) for k in (1, 2))
    assert json.loads((out / "dpi.json").read_text())["dpi"] == 500
    img = Image.open(out / "7_2.png")
    assert img.mode == "L" and img.size == (320, 400) and round(img.info["dpi"][0]) == 500
    before = {p.name: p.read_bytes() for p in out.glob("*.png")}

    # a crash: one image lost, a temporary file left behind
    (out / "4_1.png").unlink()
    (out / ".4_1.png.999.tmp").write_bytes(b"partial")
    mtime = (out / "9_2.png").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "4_1.png").read_bytes() == before["4_1.png"]     # same content regenerated
    assert (out / "9_2.png").stat().st_mtime_ns == mtime           # existing files untouched
    assert not list(out.glob(".*.tmp"))

    # other seed into the same folder: refused
    assert main(args[:-3] + ["--seed", "4", "--quiet"]) == 2

    # the bench's FVC reader finds the database and its resolution
    from papilla.bench.data import discover
    (db,) = discover(out)
    assert db.dpi == 500 and len(db.impressions) == 20
    assert {i.finger for i in db.impressions} == set(range(1, 11))


def test_synth_profile_is_recorded_and_changes_the_images(tmp_path, capsys):
    base = ["synth", "--people", "1", "--impressions", "1", "--seed", "3", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "N")]) == 0
    assert main([*base, "--out", str(tmp_path / "W"), "--profile", "wet"]) == 0
    manifest = json.loads((tmp_path / "W" / "synth.json").read_text())
    assert manifest["profile"] == "wet" and manifest["impression_params"]["wetness"] == [0.35, 0.75]
    assert json.loads((tmp_path / "N" / "synth.json").read_text())["profile"] == "nominal"
    assert (tmp_path / "W" / "3_1.png").read_bytes() != (tmp_path / "N" / "3_1.png").read_bytes()
    # the same folder with another profile is refused: one folder, one set of parameters
    assert main([*base, "--out", str(tmp_path / "W"), "--profile", "dry"]) == 2
    assert "other parameters" in capsys.readouterr().err
