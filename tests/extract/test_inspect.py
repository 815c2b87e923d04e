from __future__ import annotations

from papilla.cli import main


def test_inspect_writes_every_intermediate(data_dir, tmp_path, capsys):
    out = tmp_path / "dump"
    rc = main(["inspect", str(data_dir / "fvc2002" / "DB2_B" / "101_1.tif"), "--out", str(out), "--dpi", "569"])
    assert rc == 0
    names = {p.name for p in out.iterdir()}
    for stem in ("mask", "orientation", "frequency", "enhanced", "skeleton", "minutiae"):
        assert any(stem in n for n in names), stem
    text = capsys.readouterr().out
    assert "minutiae:" in text and "quality:" in text


def test_inspect_reports_bad_image(tmp_path, capsys):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    assert main(["inspect", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "unsupported format" in capsys.readouterr().err
