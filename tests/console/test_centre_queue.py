"""The adjudication queue beside PENDING_REVIEW: enrollments whose 1:N search never completed (a gallery
partition did not answer in any attempt, so the deduplication was dead-lettered) are listed apart, with what
failed and the command that redrives them, and offer no decision; once redriven or settled they leave the list.
The centre console runs in-process (Starlette's TestClient) over a real centre home and store."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import dramatiq
import pytest
from starlette.testclient import TestClient

from papilla.console.centre_app import CentreConsoleConfig, build_app
from papilla.identity import ensure_sender
from papilla.shared import deadletters, names
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.parties import init_centre
from papilla.shared.results import MemoryResultSink
from papilla.shared.routing import DEDUPLICATE

ADJUDICATOR = "adj-queue-01"


@pytest.fixture
def centre(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path / "home"))
    settings = Settings.from_env()
    init_centre(settings)
    opened = Centre.open(settings, publisher=MemoryResultSink())
    ensure_sender(opened, settings, ADJUDICATOR, "principal", role="adjudicator")
    yield opened
    opened.close()


def _enrollment(centre, enrollment_id: str, state: str) -> None:
    centre.store.insert(names.ENROLLMENTS, {"_id": enrollment_id, "state": state, "subject_id": f"sub-{enrollment_id}",
                                            "station_id": "st-queue-01",
                                            "created_at": datetime.now(timezone.utc).isoformat()})


def _dedup_dead_lettered(centre, enrollment_id: str) -> str:
    """What the workers' UnansweredMessages middleware records when every attempt raised PartialResult."""
    message = dramatiq.Message(queue_name=DEDUPLICATE.queue, actor_name=DEDUPLICATE.actor, args=(enrollment_id,),
                               kwargs={}, options={"retries": 5})
    deadletters.record(centre.store, centre.cipher, message, reason="exhausted_retries",
                       detail="PartialResult in each of 5 attempts", request_id=enrollment_id)
    return message.message_id


def _signed_in(centre) -> TestClient:
    client = TestClient(build_app(CentreConsoleConfig(), centre.settings, centre))
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)[1]
    assert client.post("/signin", data={"principal_id": ADJUDICATOR, "csrf": csrf}).status_code == 200
    return client


def test_enrollments_whose_search_never_completed_are_listed_apart_and_leave_when_settled(centre):
    _enrollment(centre, "st-queue-01-waiting", "EXTRACTED")
    waiting = _dedup_dead_lettered(centre, "st-queue-01-waiting")
    _enrollment(centre, "st-queue-01-settled", "ACTIVE")            # redriven since and admitted
    _dedup_dead_lettered(centre, "st-queue-01-settled")
    page = _signed_in(centre).get("/queue")
    assert page.status_code == 200
    rows = re.findall(r'data-incomplete="([^"]+)"', page.text)
    assert rows == ["st-queue-01-waiting"]
    assert "PartialResult in each of 5 attempts" in page.text and f"papilla dlq requeue {waiting}" in page.text
    assert 'data-enrollment="st-queue-01-waiting"' not in page.text      # not among the cases to decide

    centre.store.update(deadletters.COLLECTION, {"_id": waiting}, set={"state": "requeued"})
    assert "data-incomplete" not in _signed_in(centre).get("/queue").text


def test_the_queue_says_when_nothing_waits(centre):
    page = _signed_in(centre).get("/queue")
    assert "data-queue-empty" in page.text and "data-incomplete" not in page.text
