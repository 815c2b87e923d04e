"""Depersonalization by the authorised body and its removal (Law Art.9 p.1): after it, a copy of the data plus
the data keys (vault, KEKs, IIN pepper) cannot tell whose record it is; the depersonalization key, held apart,
restores it exactly, and no other key does. The prints stay usable for deduplication. Blocked subjects and
records still in progress are refused with their citations."""
from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import date

import pytest

from papilla.services.lifecycle import commands, depersonalization
from papilla.shared.crypto.envelope import EnvelopeCipher
from papilla.shared.crypto.errors import DataKeyDestroyed, IntegrityError
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.crypto.keys import FileKeyProvider
from papilla.shared.legal.rules import rule
from papilla.shared.store import open_store

from tests.helpers.retention import enroll
from tests.helpers.centre import enrolled, job

ALIYA, BERIK = make_test_iin(date(1983, 3, 3), False, 21), make_test_iin(date(1977, 7, 7), True, 22)
NAME = b"Unit Person"        # the applicant name the test packets carry


def act(centre, action, iin, rid):
    return commands._compute(centre, dict(job(centre, "block", iin), _id=rid, action=action))


def plaintexts(cipher, store, subject_id) -> list[bytes]:
    """Everything of the subject's documents that the data keys alone decrypt."""
    found = []
    for collection in ("subjects", "enrollments", "biometrics", "templates"):
        for doc in store.find(collection, {"_id": subject_id} if collection == "subjects" else
                              {"subject_id": subject_id}):
            for field, value in doc.items():
                if isinstance(value, dict) and "ct" in value and "kv" in value:
                    try:
                        found.append(cipher.decrypt(subject_id, collection, doc["_id"], field, value))
                    except (DataKeyDestroyed, IntegrityError):
                        pass
    return found


def test_a_copy_plus_the_data_keys_cannot_relink_and_the_separate_key_restores_it(centre, fvc_dir, tmp_path):
    enrollment_id, _ = enrolled(centre, fvc_dir, "st-unit-01-p1", ALIYA, {1: "101_1", 2: "102_1"})
    before = centre.store.get("enrollments", enrollment_id)
    sid = before["subject_id"]
    assert any(ALIYA.encode() in p for p in plaintexts(centre.cipher, centre.store, sid))   # linked before

    done = act(centre, "depersonalize", ALIYA, "req-dp-1")
    assert (done.status, done.rule) == ("DEPERSONALIZED", rule("depersonalization_by_authorised_body").citation)
    assert "Art.9 p.1" in done.rule
    centre.store.release_deleted()
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(centre.settings.home / "papilla.sqlite3", copy)

    old = open_store(f"sqlite:///{copy}")
    try:   # the holder of a copy and of every data key: KEKs, vault, pepper; not the depersonalization key
        cipher = EnvelopeCipher(centre.vault, FileKeyProvider(centre.provider.directory, create=False))
        assert old.find_one("subjects", {"iin_hash": centre.hasher.hash(ALIYA)}) is None   # the IIN finds nothing
        subject, enrollment = old.get("subjects", sid), old.get("enrollments", enrollment_id)
        assert "iin" not in subject and subject["iin_hash"].startswith("dp1:")
        assert not {"personal", "station_id", "operator_id", "captured_at", "reply_to"} & set(enrollment)
        opened = plaintexts(cipher, old, sid)
        assert opened and not any(ALIYA.encode() in p or NAME in p for p in opened)   # prints open, no identity
        assert ALIYA.encode() not in copy.read_bytes() and NAME not in copy.read_bytes()
    finally:
        old.close()

    # another depersonalization key (a different authority's, or a guess) neither finds nor opens the record
    stranger = dataclasses.replace(centre, provider=FileKeyProvider(centre.provider.directory, create=True,
                                                                    depersonalization_dir=tmp_path / "other"))
    assert act(stranger, "remove_depersonalization", ALIYA, "req-dp-x").status == "NOT_ENROLLED"
    with pytest.raises(depersonalization.DepersonalizationKeyMismatch):
        depersonalization.open_hidden(stranger, sid, centre.store.get("subjects", sid)["depersonalized"])

    restored = act(centre, "remove_depersonalization", ALIYA, "req-dp-2")
    assert restored.status == "DEPERSONALIZATION_REMOVED" and "Art.9 p.1" in restored.rule
    subject = centre.store.find_one("subjects", {"iin_hash": centre.hasher.hash(ALIYA)})
    assert subject["_id"] == sid and "depersonalized" not in subject
    after = centre.store.get("enrollments", enrollment_id)
    assert {k: after.get(k) for k in ("station_id", "operator_id", "captured_at", "reply_to")} == \
           {k: before.get(k) for k in ("station_id", "operator_id", "captured_at", "reply_to")}
    personal = json.loads(centre.cipher.decrypt(sid, "enrollments", enrollment_id, "personal", after["personal"]))
    assert personal["full_name"] == NAME.decode()
    assert centre.cipher.decrypt(sid, "subjects", sid, "iin", subject["iin"]).decode() == ALIYA
    actions = [e["action"] for e in centre.store.find("audit", {"subject_id": sid}, sort=[("_id", 1)])]
    assert actions[-2:] == ["depersonalized", "depersonalization_removed"]


def test_a_depersonalized_record_still_deduplicates_and_is_not_relinked_over_a_new_enrollment(centre, fvc_dir):
    first, _ = enrolled(centre, fvc_dir, "st-unit-01-p2", ALIYA, {1: "101_1", 2: "102_1"})
    sid = centre.store.get("enrollments", first)["subject_id"]
    assert act(centre, "depersonalize", ALIYA, "req-dp-3").status == "DEPERSONALIZED"
    assert act(centre, "depersonalize", ALIYA, "req-dp-4").reason == "already_depersonalized"

    # the same person enrolled again: the IIN no longer finds the old record, the prints still do (Law Art.16)
    second, result = enrolled(centre, fvc_dir, "st-unit-01-p3", ALIYA, {1: "101_2", 2: "102_2"})
    assert result.status == "PENDING_REVIEW"
    assert [c.subject_ref for c in result.candidates] == [sid]
    assert centre.store.get("enrollments", second)["subject_id"] != sid
    refused = act(centre, "remove_depersonalization", ALIYA, "req-dp-5")
    assert (refused.status, refused.reason) == ("REFUSED", "iin_enrolled_again")
    assert centre.store.get("subjects", sid)["iin_hash"].startswith("dp1:")          # nothing half-restored
    assert "personal" not in centre.store.get("enrollments", first)


def test_blocked_subjects_and_records_in_progress_are_refused(centre):
    enroll(centre, "enr-dp-b", BERIK, "public_service_authentication", date(2025, 1, 10))
    assert act(centre, "block", BERIK, "req-dp-b1").status == "BLOCKED"
    refused = act(centre, "depersonalize", BERIK, "req-dp-b2")
    assert (refused.status, refused.reason) == ("REFUSED", "subject_blocked")
    assert "Art.1 7)" in refused.rule
    assert "iin" in centre.store.find_one("subjects", {"iin_hash": centre.hasher.hash(BERIK)})

    assert act(centre, "unblock", BERIK, "req-dp-b3").status == "UNBLOCKED"
    assert act(centre, "depersonalize", BERIK, "req-dp-b4").status == "DEPERSONALIZED"
    # blocked while depersonalized (the authorised body finds the record through its key): removal is refused,
    # and unblocking returns it to DEPERSONALIZED, the state blocking interrupted (Law Art.9 p.2)
    assert act(centre, "block", BERIK, "req-dp-b4b").status == "BLOCKED"
    refused = act(centre, "remove_depersonalization", BERIK, "req-dp-b5")
    assert (refused.status, refused.reason) == ("REFUSED", "subject_blocked") and "Art.1 7)" in refused.rule
    assert act(centre, "unblock", BERIK, "req-dp-b5b").status == "UNBLOCKED"
    sid = centre.store.get("enrollments", "enr-dp-b")["subject_id"]
    assert centre.store.get("subjects", sid)["state"] == "DEPERSONALIZED"
    assert act(centre, "remove_depersonalization", BERIK, "req-dp-b5c").status == "DEPERSONALIZATION_REMOVED"

    pending_iin = make_test_iin(date(1990, 1, 1), True, 23)
    enroll(centre, "enr-dp-p", pending_iin, "public_service_authentication", date(2025, 2, 1), state="PENDING_REVIEW")
    refused = act(centre, "depersonalize", pending_iin, "req-dp-p1")
    assert (refused.status, refused.reason) == ("REFUSED", "enrollment_in_progress")
    assert act(centre, "remove_depersonalization", pending_iin, "req-dp-p2").reason == "not_depersonalized"


def test_destroying_a_depersonalized_subject_leaves_nothing_even_for_the_depersonalization_key(centre):
    enroll(centre, "enr-dp-d", BERIK, "public_service_authentication", date(2025, 3, 1))
    assert act(centre, "depersonalize", BERIK, "req-dp-d1").status == "DEPERSONALIZED"
    sid = centre.store.get("enrollments", "enr-dp-d")["subject_id"]
    subject = centre.store.get("subjects", sid)
    # the end-of-retention path (destruction_acts) destroys by the subject's stored link, here the pseudonym
    done = commands.destroy(centre, {"_id": "req-dp-d2", "iin_hash": subject["iin_hash"], "principal_id": "pr-op"},
                            trigger="retention_expired")
    assert done.status == "DESTROYED" and centre.store.get("subjects", sid) is None
    hidden = depersonalization.open_hidden(centre, sid, subject["depersonalized"])   # an old copy's blob opens…
    blob = depersonalization._unb64(hidden["subject"]["iin"])
    with pytest.raises(DataKeyDestroyed):                                            # … but its IIN does not
        centre.cipher.decrypt(sid, "subjects", sid, "iin", blob)
