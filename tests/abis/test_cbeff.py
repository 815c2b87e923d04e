"""CBEFF documents as MOSIP sends them: WSQ or JPEG 2000 records, standard or URL-safe base64, exception
markers; and `papilla abis call` mistakes as one sentence."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from papilla.cli import main
from papilla.services.abis import cbeff
from papilla.shared.messages import FingerStatus
from tests.helpers.abis import finger_pixels, finger_record

EXCEPTION = (b"<Others><Key>EXCEPTION</Key><Value>true</Value></Others>")


def test_wsq_and_jpeg2000_in_standard_and_url_safe_base64():
    pixels = finger_pixels(71, 2, 0)
    for url_safe in (True, False):
        document = cbeff.document_of({2: finger_record(pixels, 2, "jpeg2000"), 7: finger_record(pixels, 7, "wsq")},
                                     url_safe=url_safe)
        fingers = {f.position: f for f in cbeff.fingers_of(document)}
        lossless = np.array(Image.open(io.BytesIO(fingers[2].image)))
        assert np.array_equal(lossless, pixels)                      # JPEG 2000 lossless: the same pixels
        wsq = np.array(Image.open(io.BytesIO(fingers[7].image)))
        assert wsq.shape == pixels.shape and np.abs(wsq.astype(int) - pixels).mean() < 8   # WSQ is lossy
        assert fingers[2].dpi == fingers[7].dpi == 500


def test_an_exception_marker_is_a_finger_not_printed():
    pixels = finger_pixels(71, 2, 0)
    document = cbeff.document_of({2: finger_record(pixels, 2), 3: finger_record(pixels, 3)})
    # mark the right middle finger's BIR as an exception (MOSIP's Others entry), its BDB stays
    head, tail = document.split(b"Right MiddleFinger", 1)
    before, after = tail.split(b"</BDB>", 1)
    document = head + b"Right MiddleFinger" + before + b"</BDB>" + EXCEPTION + after
    fingers = {f.position: f for f in cbeff.fingers_of(document)}
    assert fingers[3].status is FingerStatus.UNABLE_TO_PRINT and fingers[3].image is None
    assert fingers[2].status is FingerStatus.CAPTURED


def test_call_mistakes_are_one_sentence(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    monkeypatch.delenv("PAPILLA_ABIS_SERVICE", raising=False)
    request = tmp_path / "r.json"
    request.write_text("{}")
    assert main(["abis", "call", str(request)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("papilla: set PAPILLA_ABIS_SERVICE") and err.count("\n") == 1
    assert main(["abis", "call", str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err == f"papilla: no request file at {tmp_path / 'missing.json'}\n"
