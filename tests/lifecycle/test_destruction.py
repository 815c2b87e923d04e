"""Destruction that leaves nothing readable (issue 11): copy the data store, destroy a subject, and neither the
live store nor the old copy yields the subject's data, while another subject in the same copy still decrypts.
And the blocked-subject holes: not adjudicated into the gallery, not destroyed while blocked (Law Art.1 7))."""
from __future__ import annotations

import shutil
from datetime import date

import pytest

from papilla.identity import ensure_sender
from papilla.services.admission import intake
from papilla.services.lifecycle import commands, enrollments
from papilla.services.match import matching
from papilla.services.match.gallery import Gallery
from papilla.shared import deadletters
from papilla.shared.crypto.envelope import EnvelopeCipher
from papilla.shared.crypto.errors import DataKeyDestroyed
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.store import open_store

from tests.helpers.centre import enrolled, job, sealed_packet

ALIYA, BERIK = make_test_iin(date(1982, 2, 2), False, 11), make_test_iin(date(1979, 9, 9), True, 12)


def readable(cipher, store, subject_id) -> list[str]:
    """Every biometric and personal field of the subject that still decrypts."""
    found = []
    for collection, fields in (("biometrics", ("image", "template")), ("templates", ("prepared",))):
        for doc in store.find(collection, {"subject_id": subject_id}):
            for field in fields:
                try:
                    cipher.decrypt(subject_id, collection, doc["_id"], field, doc[field])
                    found.append(field)
                except DataKeyDestroyed:
                    pass
    for doc in store.find("enrollments", {"subject_id": subject_id}):
        try:
            cipher.decrypt(subject_id, "enrollments", doc["_id"], "personal", doc["personal"])
            found.append("personal")
        except DataKeyDestroyed:
            pass
    return found


def test_destroyed_subject_is_unreadable_in_the_live_store_and_in_an_old_copy(centre, fvc_dir, tmp_path):
    aliya_enrollment, _ = enrolled(centre, fvc_dir, "st-unit-01-d1", ALIYA, {1: "101_1", 2: "102_1"})
    enrolled(centre, fvc_dir, "st-unit-01-d2", BERIK, {1: "103_1", 2: "104_1"})
    aliya = centre.store.get("enrollments", aliya_enrollment)["subject_id"]
    berik = centre.store.find_one("subjects", {"iin_hash": centre.hasher.hash(BERIK)})["_id"]
    centre.store.release_deleted()
    copy = tmp_path / "backup.sqlite3"
    shutil.copy(centre.settings.home / "papilla.sqlite3", copy)       # a backup of the data, not the key vault
    assert readable(centre.cipher, centre.store, aliya)                # readable before

    done = commands.destroy(centre, job(centre, "destroy", ALIYA), trigger="destroyed_on_application")
    assert done.status == "DESTROYED" and "p.11" in done.rule
    assert centre.store.get("subjects", aliya) is None and centre.store.count("biometrics", {"subject_id": aliya}) == 0
    old = open_store(f"sqlite:///{copy}")
    try:
        cipher = EnvelopeCipher(centre.vault, centre.provider)            # the live key vault, as after a restore
        assert old.count("biometrics", {"subject_id": aliya}) > 0          # the copy still has the ciphertext …
        assert readable(cipher, old, aliya) == []                          # … and none of it opens
        assert sorted(set(readable(cipher, old, berik))) == ["image", "personal", "prepared", "template"]
        blob = old.find_one("subjects", {"_id": aliya})["iin"]
        with pytest.raises(DataKeyDestroyed):
            cipher.decrypt(aliya, "subjects", aliya, "iin", blob)
    finally:
        old.close()
    data = (centre.settings.home / "papilla.sqlite3").read_bytes()
    assert ALIYA.encode() not in data and b"Unit Person" not in data


def test_destruction_shreds_the_subjects_dead_letters(centre, fvc_dir):
    import dramatiq

    enrollment_id, _ = enrolled(centre, fvc_dir, "st-unit-01-d3", ALIYA, {1: "105_1"})
    message = dramatiq.Message(queue_name="papilla.enroll", actor_name="extract_enrollment", args=("sealed",),
                               kwargs={}, options={})
    deadletters.record(centre.store, centre.cipher, message, reason="bad_image", detail="finger 2: x",
                       request_id=enrollment_id)
    commands.destroy(centre, job(centre, "destroy", ALIYA), trigger="destroyed_on_application")
    letter = centre.store.get("dead_letters", message.message_id)
    assert letter["body"] is None and letter["reason"] == "bad_image"
    with pytest.raises(DataKeyDestroyed):
        centre.cipher.decrypt(deadletters.dead_letter_key(message.message_id), "dead_letters", message.message_id,
                              "body", {"v": 1, "kv": 1, "n": b"0" * 12, "ct": b"0" * 32})


def test_a_blocked_subject_is_not_destroyed_and_not_adjudicated_into_the_gallery(centre, fvc_dir):
    ensure_sender(centre, centre.settings, "pr-body", "principal", role="authorised_body")
    # two packets of one person in flight together (the second accepted before the first is active; once it is,
    # the centre's store makes a new application a verification instead): the second waits for a person
    first = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-b1", ALIYA,
                                                           {1: "106_1", 2: "107_1"})).enrollment_id
    again = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-b2", ALIYA,
                                                           {1: "106_2", 2: "107_2"})).enrollment_id
    gallery = Gallery(centre)
    for enrollment_id, status in ((first, "ACTIVE"), (again, "PENDING_REVIEW")):
        assert enrollments.settle(centre, enrollment_id,
                                  *matching.deduplicate(centre, gallery, enrollment_id)).status == status
    assert commands.block(centre, job(centre, "block", ALIYA), blocked=True).status == "BLOCKED"
    adjudicated = commands.adjudicate(centre, job(centre, "adjudicate", enrollment_id=again, decision="distinct_person"))
    assert (adjudicated.status, adjudicated.reason) == ("REFUSED", "subject_blocked") and "Art.1 7)" in adjudicated.rule
    assert centre.store.get("enrollments", again)["state"] == "PENDING_REVIEW"
    refused = commands.destroy(centre, job(centre, "destroy", ALIYA), trigger="destroyed_on_application")
    assert (refused.status, refused.reason) == ("REFUSED", "subject_blocked") and "Art.1 7)" in refused.rule
    assert centre.store.get("enrollments", first) is not None
    gallery = Gallery(centre)
    gallery.sync()
    assert first not in gallery.entries and again not in gallery.entries


def test_adjudication_without_a_decision_is_refused_not_a_silent_rejection(centre, fvc_dir):
    enrolled(centre, fvc_dir, "st-unit-01-a1", ALIYA, {1: "108_1"})
    again, _ = enrolled(centre, fvc_dir, "st-unit-01-a2", BERIK, {1: "108_2"})
    refused = commands.adjudicate(centre, job(centre, "adjudicate", enrollment_id=again, decision=None))
    assert refused.reason == "decision_required"
    assert centre.store.get("enrollments", again)["state"] == "PENDING_REVIEW"


def test_consent_withdrawal_cites_the_withdrawal_rule(centre, fvc_dir):
    enrolled(centre, fvc_dir, "st-unit-01-w1", ALIYA, {1: "109_1"})
    done = commands._compute(centre, job(centre, "withdraw_consent", ALIYA))
    assert done.status == "DESTROYED" and "Rules 395" in done.rule and "p.6" in done.rule


def test_destruction_on_application_is_counted_same_day_or_late(centre, fvc_dir):
    from datetime import datetime, timedelta, timezone

    from papilla.shared import metrics

    def count(timeliness):
        return metrics.DESTRUCTIONS.labels(timeliness)._value.get()

    enrolled(centre, fvc_dir, "st-unit-01-m1", ALIYA, {1: "110_1"})
    enrolled(centre, fvc_dir, "st-unit-01-m2", BERIK, {1: "110_4"})
    same, late = count("same_day"), count("late")
    now = datetime.now(timezone.utc)
    commands.destroy(centre, dict(job(centre, "destroy", ALIYA), created_at=now.isoformat()),
                     trigger="destroyed_on_application")
    commands.destroy(centre, dict(job(centre, "destroy", BERIK), created_at=(now - timedelta(days=2)).isoformat()),
                     trigger="destroyed_on_application")
    assert (count("same_day") - same, count("late") - late) == (1, 1)


def test_destruction_applications_not_done_the_day_received_are_exported_as_overdue(centre):
    """papilla_destruction_applications_overdue (Rules 406 p.11): pending destruction applications received on an
    earlier local day in Kazakhstan; other commands and today's applications are not overdue; answered, it clears."""
    from datetime import datetime, timezone

    from papilla.services.lifecycle.lifecycle_metrics import LifecycleDeadlines
    from papilla.shared import clock

    def overdue():
        families = {f.name: f for f in LifecycleDeadlines(lambda: centre).collect()}
        return families["papilla_destruction_applications_overdue"].samples[0].value

    def received(rid, action, at):
        centre.store.insert("jobs", dict(job(centre, action, ALIYA), _id=rid, state="pending", created_at=at,
                                         reply_to="svc-unit-01"))

    received("req-late", "destroy", "2026-12-01T18:30:00+00:00")        # 23:30 on 1 Dec in Almaty
    received("req-today", "withdraw_consent", "2026-12-01T19:30:00+00:00")   # 00:30 on 2 Dec in Almaty
    received("req-block", "block", "2026-11-28T09:00:00+00:00")           # not a destruction application
    with clock.frozen(datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc)):   # 10:00 on 2 Dec in Almaty
        assert overdue() == 1
        assert commands.run_command(centre, "req-late").status == "NOT_ENROLLED"   # answered: no longer overdue
        assert overdue() == 0
    with clock.frozen(datetime(2026, 12, 2, 19, 0, tzinfo=timezone.utc)):  # 00:00 on 3 Dec: today's is now late
        assert overdue() == 1
