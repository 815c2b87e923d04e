"""What a dead letter keeps of its message: the body up to `MAX_KEPT_BODY`, requeueable as it was; above it,
only the size (measured without encoding the oversized argument again: a hostile 20 MB argument must not
cost the worker two more copies of itself)."""
from __future__ import annotations

import json

import dramatiq
import pytest

from papilla.shared import deadletters
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.parties import init_centre
from papilla.shared.results import MemoryResultSink


@pytest.fixture
def centre(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    settings = Settings.from_env()
    init_centre(settings)
    centre = Centre.open(settings, publisher=MemoryResultSink())
    yield centre
    centre.close()


def message(arg) -> dramatiq.Message:
    return dramatiq.Message(queue_name="papilla.enroll", actor_name="extract_enrollment", args=(arg,), kwargs={},
                            options={"retries": 3, "traceback": "Traceback: local x='secret'"})


def encoded_size(m: dramatiq.Message) -> int:
    data = m.asdict()
    data["options"] = {k: v for k, v in data["options"].items() if k != "traceback"}
    return len(json.dumps(data, separators=(",", ":")).encode())


def test_a_small_body_is_kept_encrypted_without_its_traceback_and_sized_exactly(centre):
    m = message("c2VhbGVk")
    deadletters.record(centre.store, centre.cipher, m, reason="bad_signature", detail="signature does not verify")
    letter = deadletters.get(centre.store, m.message_id)
    assert letter.body_kept and letter.body_size == encoded_size(m)
    raw = centre.cipher.decrypt(deadletters.dead_letter_key(m.message_id), deadletters.COLLECTION, m.message_id,
                                "body", centre.store.get(deadletters.COLLECTION, m.message_id)["body"])
    assert json.loads(raw)["args"] == ["c2VhbGVk"] and b"secret" not in raw


@pytest.mark.parametrize("size", [deadletters.MAX_KEPT_BODY + 1, 20_000_000])
def test_an_oversized_body_is_not_kept_and_its_size_is_still_recorded(centre, size):
    m = message("!" * size)
    deadletters.record(centre.store, centre.cipher, m, reason="malformed_message", detail="not base64 text")
    letter = deadletters.get(centre.store, m.message_id)
    assert not letter.body_kept
    assert abs(letter.body_size - encoded_size(m)) <= 2, (letter.body_size, encoded_size(m))
    with pytest.raises(deadletters.NotRequeueable, match="kept no body"):
        deadletters.requeue(centre.store, centre.cipher, None, m.message_id)
