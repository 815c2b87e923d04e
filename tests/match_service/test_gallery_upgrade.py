"""After a matcher upgrade the stored templates still match: re-prepared from the encrypted minutiae."""
from __future__ import annotations

import numpy as np

from papilla.services.extract.engine import extract
from papilla.services.match import engine
from papilla.services.match.gallery import load_fingers
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.parties import init_centre
from papilla.shared.formats.images import load_image
from papilla.shared.results import MemoryResultSink


def test_templates_of_an_older_engine_are_reprepared_and_saved(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    init_centre(Settings.from_env())
    centre = Centre.open(Settings.from_env(), publisher=MemoryResultSink())
    image = load_image(data_dir / "samples" / "probe.png")
    template = extract(image.pixels, dpi=image.dpi or 500)
    current = engine.prepare(template)
    stale = bytearray(current.to_bytes())
    version = engine.ENGINE_VERSION.encode()
    at = bytes(stale).find(version)
    assert at >= 0, "the prepared form names its engine version"
    stale[at:at + len(version)] = b"x" * len(version)   # what an older engine's bytes look like to this one
    doc_id = "enr-1:2"
    enc = centre.cipher.encrypt
    centre.store.insert("biometrics", {
        "_id": doc_id, "enrollment_id": "enr-1", "subject_id": "sub-1", "position": 2, "quality": template.quality,
        "engine": "older", "width": template.width, "height": template.height,
        "minutiae": enc("sub-1", "biometrics", doc_id, "minutiae", template.minutiae.tobytes()),
        "prepared": enc("sub-1", "biometrics", doc_id, "prepared", bytes(stale))})
    fingers = load_fingers(centre, "enr-1", "sub-1")
    assert engine.compare(fingers[2], current) == engine.compare(current, current)
    assert centre.store.get("biometrics", doc_id)["engine"] == engine.ENGINE_VERSION
    again = load_fingers(centre, "enr-1", "sub-1")   # now read as current, no re-preparation
    assert np.array_equal(again[2].cyl, current.cyl)
    centre.close()
