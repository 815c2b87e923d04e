"""ISO/IEC 19794-2:2005 records: round trip and third-party (SecuGen) files."""
from __future__ import annotations

import numpy as np
import pytest

from papilla.shared.formats.iso19794_2 import (ANGLE_UNIT, IsoFormatError, IsoView, read_iso,
                                               write_iso)
from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate


def _template(n=40, seed=1) -> FingerTemplate:
    rng = np.random.default_rng(seed)
    m = np.zeros(n, MINUTIA_DTYPE)
    m["x"] = rng.uniform(0, 387, n)
    m["y"] = rng.uniform(0, 373, n)
    m["angle"] = rng.uniform(0, 2 * np.pi, n)
    m["kind"] = rng.integers(0, 3, n)
    m["quality"] = rng.integers(0, 101, n)
    return FingerTemplate(width=388, height=374, minutiae=m, quality=77)


def test_round_trip_is_exact_within_quantization():
    t = _template()
    data = write_iso(t, finger_positions=[2])
    rec = read_iso(data)
    assert (rec.width, rec.height, rec.x_resolution, rec.y_resolution, rec.dpi) == (388, 374, 197, 197, 500)
    assert len(rec.views) == 1 and rec.views[0].finger_position == 2 and rec.views[0].quality == 77
    back = rec.to_finger_template()
    a, b = t.minutiae, back.minutiae
    assert (back.width, back.height, back.quality, back.dpi) == (388, 374, 77, 500)
    assert np.all(np.abs(a["x"] - b["x"]) <= 0.5) and np.all(np.abs(a["y"] - b["y"]) <= 0.5)
    dang = np.abs(np.angle(np.exp(1j * (a["angle"].astype(float) - b["angle"]))))
    assert np.all(dang <= ANGLE_UNIT / 2 + 1e-6)
    assert np.array_equal(a["kind"], b["kind"]) and np.array_equal(a["quality"], b["quality"])
    # a second round trip is byte-identical
    assert write_iso(back, finger_positions=[2]) == data


def test_multiple_views_and_extended_data():
    t1, t2 = _template(10, 1), _template(0, 2)
    v = IsoView(minutiae=t1.minutiae, finger_position=7, view_number=3, impression_type=1,
                quality=50, extended_data=b"\x00\x01\x00\x02ab")
    rec = read_iso(write_iso([v, t2], width=400, height=500))
    assert [x.finger_position for x in rec.views] == [7, 0]
    assert rec.views[0].view_number == 3 and rec.views[0].impression_type == 1
    assert rec.views[0].extended_data == b"\x00\x01\x00\x02ab"
    assert len(rec.views[1].minutiae) == 0


@pytest.mark.parametrize("bad, msg", [
    (b"FMR", "too short"),
    (b"XYZ\x00 20\x00" + bytes(16), "missing 'FMR'"),
    (b"FMR\x00 030" + bytes(16), "unsupported version"),
])
def test_invalid_records_raise_specific_errors(bad, msg):
    with pytest.raises(IsoFormatError, match=msg):
        read_iso(bad)


def test_truncated_record_is_rejected():
    data = write_iso(_template())
    with pytest.raises(IsoFormatError, match="truncated"):
        read_iso(data[:-20])


def test_secugen_files_parse_with_expected_header(fvc_dir):
    files = sorted(fvc_dir.glob("DB*_B/*.iso"))
    assert len(files) == 320
    counts = []
    for f in files:
        rec = read_iso(f.read_bytes())
        assert (rec.width, rec.height, rec.x_resolution, rec.y_resolution) == (300, 400, 197, 197)
        assert len(rec.views) == 1
        m = rec.views[0].minutiae
        assert m.dtype == MINUTIA_DTYPE
        assert np.all((m["x"] < 300) & (m["y"] < 400))
        assert np.all((m["angle"] >= 0) & (m["angle"] < 2 * np.pi))
        assert set(np.unique(m["kind"])) <= {1, 2}
        counts.append(len(m))
        t = rec.to_finger_template()
        assert (t.width, t.height) == (300, 400)
    assert min(counts) >= 5 and np.median(counts) >= 20


def test_secugen_first_file_exact_values(fvc_dir):
    rec = read_iso((fvc_dir / "DB1_B" / "101_1.iso").read_bytes())
    m = rec.views[0].minutiae
    assert len(m) == 25
    assert (m["x"][0], m["y"][0], m["kind"][0]) == (165, 48, 2)
    assert m["angle"][0] == pytest.approx(0x6B * ANGLE_UNIT, abs=1e-6)
