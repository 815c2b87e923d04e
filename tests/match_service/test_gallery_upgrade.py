"""Match prepares its own templates from extract's FingerTemplates; after a matcher upgrade they are
prepared again from the stored minutiae, and the gallery loads them without reading images."""
from __future__ import annotations

import numpy as np

from papilla.services.extract.engine import extract
from papilla.services.match import engine, templates
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.parties import init_centre
from papilla.shared.formats.images import load_image
from papilla.shared.names import BIOMETRICS, TEMPLATES
from papilla.shared.results import MemoryResultSink
from papilla.shared.template import template_to_bytes


def test_templates_are_prepared_by_match_and_reprepared_after_an_engine_upgrade(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    init_centre(Settings.from_env())
    centre = Centre.open(Settings.from_env(), publisher=MemoryResultSink())
    image = load_image(data_dir / "samples" / "probe.png")
    template = extract(image.pixels, dpi=image.dpi or 500)
    current = engine.prepare(template)
    doc_id = "enr-1:2"
    centre.store.insert(BIOMETRICS, {
        "_id": doc_id, "enrollment_id": "enr-1", "subject_id": "sub-1", "position": 2, "quality": template.quality,
        "template": centre.cipher.encrypt("sub-1", BIOMETRICS, doc_id, "template", template_to_bytes(template))})
    assert centre.store.get(TEMPLATES, "enr-1") is None
    fingers = templates.fingers_of(centre, "enr-1", "sub-1")          # prepared by match and kept
    assert np.array_equal(fingers[2].cyl, current.cyl)
    assert centre.store.get(TEMPLATES, "enr-1")["engine"] == engine.ENGINE_VERSION

    # what an older engine's stored form looks like to this one
    packed = bytearray(templates.pack_fingers({2: current}))
    version = engine.ENGINE_VERSION.encode()
    at = bytes(packed).find(version)
    assert at >= 0, "the prepared form names its engine version"
    packed[at:at + len(version)] = b"x" * len(version)
    centre.store.update(TEMPLATES, {"_id": "enr-1"}, set={
        "engine": "older", "prepared": centre.cipher.encrypt("sub-1", TEMPLATES, "enr-1", "prepared", bytes(packed))})
    loaded = list(templates.load_many(centre, [("enr-1", "sub-1")]))
    assert engine.compare(loaded[0].fingers[2], current) == engine.compare(current, current)
    assert centre.store.get(TEMPLATES, "enr-1")["engine"] == engine.ENGINE_VERSION
    centre.close()
