"""ISO/IEC 19794-2 interoperability with a third-party extractor: SecuGen's templates of the FVC2002 DB1_B
fingers (made from the images resized to 300x400) against Papilla's own extraction of another impression,
resized the same way. Right coordinates, axes and angle convention give every mate a higher score than any
non-mate; a record's resolution field is what scales its coordinates."""
from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from papilla.services.extract.templating import template_from_image
from papilla.services.match import engine
from papilla.shared.formats.iso19794_2 import read_iso, write_iso

FINGERS = range(101, 111)


def _papilla_template(path):
    out = io.BytesIO()
    Image.open(path).convert("L").resize((300, 400)).save(out, format="PNG")   # the frame SecuGen's records use
    return template_from_image(1, out.getvalue(), 500).template


def test_secugen_templates_match_papillas_extraction(fvc_dir):
    db = fvc_dir / "DB1_B"
    secugen = {f: engine.prepare(read_iso((db / f"{f}_1.iso").read_bytes()).to_finger_template()) for f in FINGERS}
    papilla = {f: engine.prepare(_papilla_template(db / f"{f}_2.tif")) for f in FINGERS}
    mates = [float(engine.compare(papilla[f], secugen[f])) for f in FINGERS]
    others = [float(engine.compare(papilla[a], secugen[b])) for a in FINGERS for b in FINGERS if a != b]
    # measured: mates 0.24-0.78, non-mates at most 0.036 (90 pairs)
    assert min(mates) > max(others)
    # and Papilla's template written as ISO and read back scores its mate the same
    again = read_iso(write_iso(_papilla_template(db / "101_2.tif"), finger_positions=[1])).to_finger_template()
    assert abs(float(engine.compare(engine.prepare(again), secugen[101])) - mates[0]) < 0.05


def test_the_resolution_comes_from_the_record(fvc_dir):
    data = bytearray((fvc_dir / "DB1_B" / "101_1.iso").read_bytes())
    at_500 = read_iso(bytes(data)).to_finger_template()
    struct.pack_into(">HH", data, 18, 394, 394)       # x / y resolution fields: 394 px/cm
    record = read_iso(bytes(data))
    assert record.dpi == 1001                         # 394 px/cm is 1000.8 ppi
    at_1000 = record.to_finger_template()
    assert (at_1000.width, at_1000.height) == (150, 200)
    assert np.allclose(at_1000.minutiae["x"], at_500.minutiae["x"] * 500 / record.dpi, atol=0.01)
    assert np.allclose(at_1000.minutiae["angle"], at_500.minutiae["angle"])
