"""Each way of tampering with the trail is detected and named, in one sentence, at the right entry."""
from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papilla.shared import audit, audit_checkpoints
from papilla.shared.audit_chain import COLLECTION, META, AuditTrail, read_head
from papilla.shared.audit_verify import ALTERED, CHECKPOINT, DELETED, HEAD, INSERTED, REORDERED, TRUNCATED, verify
from papilla.shared.crypto.keys import FileKeyProvider

from tests.helpers.audit_trail import ENTRIES, fill


def only(trail, **files) -> audit.Problem:
    problems = audit.verify(trail, **files).problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.sentence.endswith(".") and "\n" not in problem.sentence and problem.sentence[0].isupper()
    return problem


def renumber(store, ids, shift: int) -> None:
    """Move the entries with these `_id`s by `shift` positions (from the far end, so ids never collide)."""
    for _id in sorted(ids, reverse=shift > 0):
        doc = store.get(COLLECTION, _id)
        store.delete(COLLECTION, {"_id": _id})
        store.insert(COLLECTION, dict(doc, _id=_id + shift))


def test_an_intact_trail_verifies_with_its_head_and_checkpoints(trail):
    report = audit.verify(trail)
    assert report.ok and report.entries == report.last_seq == report.head_seq == ENTRIES
    assert report.checkpoint.seq == 10 and report.checkpoints_outside == 2   # entries 5 and 10, in the file
    assert [e["seq"] for e in trail.store.find(COLLECTION, {}, sort=[("_id", 1)])] == list(range(1, ENTRIES + 1))


def test_entries_only_verify_under_the_audit_key(trail, tmp_path):
    other = AuditTrail.of(trail.store, FileKeyProvider(tmp_path / "another-key"), verify_key=trail.verify_key,
                          policy=trail.policy)
    problem = audit.verify(other).problems[0]
    assert (problem.kind, problem.seq) == (ALTERED, 1)


def test_edited_entry_is_named(trail):
    trail.store.update(COLLECTION, {"_id": 4}, set={"action": "unblocked"})
    problem = only(trail)
    assert (problem.kind, problem.seq) == (ALTERED, 4)
    assert problem.sentence.startswith("Entry 4 was altered")


def test_edited_entry_with_a_recomputed_plain_hash_is_named(trail):
    doc = trail.store.get(COLLECTION, 7)
    doc["details"] = {"request_id": "req-other"}
    forged = hashlib.sha256(json.dumps({k: v for k, v in doc.items() if k != "mac"}, sort_keys=True).encode())
    trail.store.update(COLLECTION, {"_id": 7}, set={"details": doc["details"], "mac": forged.hexdigest()})
    problem = only(trail)
    assert (problem.kind, problem.seq) == (ALTERED, 7)


def test_deleted_entry_is_named(trail):
    trail.store.delete(COLLECTION, {"_id": 4})
    problem = only(trail)
    assert (problem.kind, problem.seq) == (DELETED, 4)
    assert problem.sentence == "Entry 4 was deleted (entry 5 follows entry 3)."


def test_deleted_run_of_entries_is_named(trail):
    trail.store.delete(COLLECTION, {"_id": {"$in": [6, 7, 8]}})
    problem = only(trail)
    assert (problem.kind, problem.seq) == (DELETED, 6)
    assert problem.sentence.startswith("Entries 6 to 8 were deleted")


def test_inserted_entry_is_named(trail):
    renumber(trail.store, range(6, ENTRIES + 1), +1)          # make room at position 6
    forged = dict(trail.store.get(COLLECTION, 7), _id=6, action="unblocked", actor="intruder")
    trail.store.insert(COLLECTION, forged)
    problems = audit.verify(trail).problems
    assert (problems[0].kind, problems[0].seq) == (INSERTED, 6)
    assert problems[0].sentence.startswith("An entry the centre did not write was inserted after entry 5")


def test_entry_added_after_the_last_one_is_named(trail):
    last = trail.store.get(COLLECTION, ENTRIES)
    forged = dict(last, _id=ENTRIES + 1, seq=ENTRIES + 1, prev=last["mac"], action="destroyed", mac="00" * 32)
    trail.store.insert(COLLECTION, forged)
    problem = only(trail)
    assert (problem.kind, problem.seq) == (INSERTED, ENTRIES + 1)


def test_copy_of_an_earlier_entry_inserted_is_named(trail):
    renumber(trail.store, range(9, ENTRIES + 1), +1)
    trail.store.insert(COLLECTION, dict(trail.store.get(COLLECTION, 3), _id=9))   # a genuine entry, replayed
    problem = audit.verify(trail).problems[0]
    assert (problem.kind, problem.seq) == (INSERTED, 3)
    assert problem.sentence == "A copy of entry 3 was inserted after entry 8."


def test_reordered_pair_is_named(trail):
    five, six = trail.store.get(COLLECTION, 5), trail.store.get(COLLECTION, 6)
    trail.store.delete(COLLECTION, {"_id": {"$in": [5, 6]}})
    trail.store.insert(COLLECTION, dict(six, _id=5))
    trail.store.insert(COLLECTION, dict(five, _id=6))
    problem = only(trail)
    assert (problem.kind, problem.seq) == (REORDERED, 5)
    assert problem.sentence == "Entry 5 is out of order: it is stored after entry 6."


def test_deleted_last_entry_is_a_truncated_tail(trail):
    trail.store.delete(COLLECTION, {"_id": ENTRIES})
    problem = only(trail)
    assert (problem.kind, problem.seq) == (TRUNCATED, ENTRIES)
    assert problem.sentence == ("The trail ends at entry 11 but its head records entry 12: "
                                "entry 12 was removed from the end.")


def test_truncated_tail_with_an_old_head_put_back_is_caught_by_the_checkpoint(spec):
    trail = spec.open()
    fill(trail, 8)
    old_head = read_head(trail.store)                         # an insider kept a copy of the head at entry 8
    fill(trail, 4)                                            # entries 9..12; checkpoint at 10
    trail.store.delete(COLLECTION, {"_id": {"$gt": 8}})
    trail.store.update(META, {"_id": "head"}, set={k: v for k, v in old_head.items() if k != "_id"})
    problem = only(trail)
    assert (problem.kind, problem.seq) == (TRUNCATED, 9)
    assert "the checkpoint signed at" in problem.sentence and "entries 9 to 10 were removed" in problem.sentence


def test_tail_removed_with_head_and_store_checkpoints_is_caught_by_the_checkpoint_file(trail):
    trail.store.delete(COLLECTION, {"_id": {"$gt": 6}})
    trail.store.delete(META, {"_id": {"$in": ["head", "checkpoint:000000000005", "checkpoint:000000000010"]}})
    problems = audit.verify(trail).problems
    assert [p.kind for p in problems] == [TRUNCATED, HEAD]
    assert problems[0].sentence.startswith("The trail ends at entry 6 but the checkpoint signed at")


def test_exported_checkpoint_catches_truncation_when_every_copy_at_the_centre_is_gone(trail, tmp_path):
    exported = tmp_path / "auditor" / "checkpoint.json"
    head = read_head(trail.store)
    audit_checkpoints.export(audit_checkpoints.write_checkpoint(trail, head["seq"], head["mac"]), exported)
    trail.store.delete(COLLECTION, {"_id": {"$gt": 2}})
    trail.store.delete(META, {})
    trail.policy.checkpoint_file.unlink()
    assert audit.verify(trail).problems[0].kind == HEAD                 # the centre alone cannot say what is gone
    problem = audit.verify(trail, checkpoint_files=[exported]).problems[0]
    assert (problem.kind, problem.seq) == (TRUNCATED, 3)
    assert f"records entry {ENTRIES}" in problem.sentence


def test_checkpoint_not_signed_by_the_centre_is_named(trail):
    forged = AuditTrail(store=trail.store, mac=trail.mac, signer=Ed25519PrivateKey.generate(), policy=trail.policy)
    audit_checkpoints.write_checkpoint(forged, 40, "ab" * 32)          # claims a longer trail, wrong signer
    problems = audit.verify(trail).problems
    assert [p.kind for p in problems] == [CHECKPOINT, CHECKPOINT]    # one in the store, one in the file
    assert problems[0].sentence == "A checkpoint in the store was not signed by the centre."
    assert problems[1].sentence.endswith("checkpoints.jsonl line 3 was not signed by the centre.")


def test_chain_rewritten_with_the_audit_key_is_caught_by_the_signed_checkpoint(spec):
    trail = spec.open()
    fill(trail, 10)                                               # checkpoint at 10 signed by the centre
    trail.store.delete(COLLECTION, {})
    trail.store.delete(META, {"_id": "head"})
    insider = AuditTrail(store=trail.store, mac=trail.mac, policy=trail.policy)   # has the audit key, not the centre key
    fill(insider, 10)
    problem = only(trail)
    assert (problem.kind, problem.seq) == (CHECKPOINT, 5)
    assert "the trail was rewritten" in problem.sentence


def test_altered_head_is_named(trail):
    trail.store.update(META, {"_id": "head"}, set={"seq": 3})
    problem = only(trail)
    assert problem.kind == HEAD and "head record was altered" in problem.sentence


def test_a_writer_that_died_before_moving_the_head_is_repaired_by_the_next_append(trail):
    head = read_head(trail.store)
    entry = {"_id": ENTRIES + 1, "seq": ENTRIES + 1, "at": "2030-01-01T00:00:00+00:00", "action": "blocked",
             "subject_id": "subj-9", "actor": "principal-9", "rule": None, "details": {}, "prev": head["mac"]}
    entry["mac"] = audit.entry_mac(trail, entry)
    trail.store.insert(COLLECTION, entry)                        # inserted; the head was never advanced
    assert audit.verify(trail).ok                                 # the head may lag one entry behind
    assert audit.append(trail, "unblocked", subject_id="subj-9", actor="principal-9") == ENTRIES + 2
    report = verify(trail)
    assert report.ok and report.head_seq == report.last_seq == ENTRIES + 2


def test_appends_go_on_after_the_head_was_removed(trail):
    trail.store.delete(META, {"_id": "head"})
    assert only(trail).kind == HEAD
    assert audit.append(trail, "unblocked", subject_id="subj-9", actor="principal-9") == ENTRIES + 1
    assert audit.verify(trail).ok


def test_personal_data_is_refused_at_append(trail):
    for details in ({"iin": "x"}, {"request": {"Surname": "x"}}, {"ids": ["880101300123"]}, {"blob": b"\x00"}):
        with pytest.raises(audit.AuditDataError):
            audit.append(trail, "blocked", subject_id="subj-1", actor="p", details=details)
    with pytest.raises(audit.AuditDataError):
        audit.append(trail, "blocked", subject_id="880101300123", actor="p")
    assert audit.verify(trail).ok and read_head(trail.store)["seq"] == ENTRIES


def test_a_bare_store_is_refused(trail):
    with pytest.raises(TypeError):
        audit.append(trail.store, "blocked", subject_id="s", actor="p")
