"""The audit trail is read and verified by an auditor, not by whoever holds the audit key (issue 19); refused
attempts (wrong role, unknown principal, a refused signature on an act of destruction or on a subject's access
request) land in the trail; a
tail cut from the trail shows against the checkpoint published to the auditor."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.cli import main
from papilla.identity import ensure_sender
from papilla.services.lifecycle import access, destruction_acts
from papilla.shared.audit_chain import COLLECTION, META
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.parties import init_centre, init_party
from papilla.shared.principals import sign
from papilla.shared.results import MemoryResultSink

from tests.helpers.audit_trail import fill

AUDITOR, OPERATOR, STRANGER = "pr-auditor-02", "pr-operator-02", "pr-stranger-02"


@pytest.fixture
def centre(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAPILLA_AUDIT_CHECKPOINT_EVERY", "5")
    settings = Settings.from_env()
    init_centre(settings)
    opened = Centre.open(settings, publisher=MemoryResultSink())
    opened.people = {p: ensure_sender(opened, settings, p, "principal", role=r)
                     for p, r in ((AUDITOR, "auditor"), (OPERATOR, "operator"))}
    init_party(settings, STRANGER, "principal", role="auditor")      # keys, never registered at the centre
    fill(opened, 12)
    yield opened
    opened.close()


def refusals(centre, action: str) -> list[dict]:
    return centre.store.find(COLLECTION, {"action": action})


@pytest.mark.parametrize("command", ["show", "verify"])
@pytest.mark.parametrize("who, code", [(OPERATOR, "role_not_permitted"), (STRANGER, "unknown_principal")])
def test_show_and_verify_need_a_registered_auditor_and_a_refusal_is_recorded(centre, capsys, command, who, code):
    assert main(["audit", command, "--principal", who]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("papilla: refused: ") and err.count("\n") == 1
    (entry,) = refusals(centre, "audit_access_refused")
    assert entry["actor"] == who and entry["details"] == {"command": command, "code": code}
    assert main(["audit", command, "--principal", AUDITOR]) == 0     # the auditor reads, and the chain holds
    assert "audit_access_refused" in capsys.readouterr().out or command == "verify"


def test_an_auditors_read_is_itself_an_entry(centre, capsys):
    subject = centre.store.find(COLLECTION, {"subject_id": {"$ne": None}}, limit=1)[0]["subject_id"]
    assert main(["audit", "show", "--principal", AUDITOR, "--subject", subject, "--limit", "5"]) == 0
    (read,) = refusals(centre, "audit_read")
    assert read["actor"] == AUDITOR and read["subject_id"] == subject
    assert read["details"] == {"command": "show", "limit": 5, "entries": 3}      # fill() gives subj-0 three
    capsys.readouterr()
    assert main(["audit", "verify", "--principal", AUDITOR]) == 0       # the chain holds with it
    assert "audit trail intact" in capsys.readouterr().out


def test_a_refused_signature_on_an_act_of_destruction_is_recorded(centre):
    act = destruction_acts.propose(centre, [], date(2026, 12, 7))
    digest = centre.store.get(destruction_acts.ACTS, act)["digest"]
    attempt = destruction_acts.ActSignature(act_id=act, digest=digest, decision="approve", principal_id=OPERATOR)
    with pytest.raises(Refusal) as err:     # an operator is not the head of the unit (Law Art.17 p.3)
        destruction_acts.sign_act(centre, sign(attempt, "principal_signature", centre.people[OPERATOR].signing))
    assert err.value.code == "role_not_permitted"
    (entry,) = refusals(centre, "destruction_act_signature_refused")
    assert entry["actor"] == OPERATOR and entry["rule"].endswith("Art.17 p.3")
    assert entry["details"] == {"act_id": act, "decision": "approve", "code": "role_not_permitted"}


def test_refused_receipts_and_decisions_of_access_requests_are_recorded_without_the_iin(centre):
    iin = make_test_iin(date(1979, 4, 4), False, 31)
    by_auditor = access.AccessRequest(request_id="acc-0001", iin=iin, principal_id=AUDITOR)
    with pytest.raises(Refusal) as err:     # receiving at a branch is an operator's or supervisor's act
        access.receive(centre, sign(by_auditor, "principal_signature", centre.people[AUDITOR].signing))
    assert err.value.code == "role_not_permitted"
    forged = access.AccessRequest(request_id="acc-0002", iin=iin, principal_id=OPERATOR)
    with pytest.raises(Refusal) as err:     # signed with another principal's key
        access.receive(centre, sign(forged, "principal_signature", centre.people[AUDITOR].signing))
    bad_signature = err.value.code
    received = access.AccessRequest(request_id="acc-0003", iin=iin, principal_id=OPERATOR)
    access.receive(centre, sign(received, "principal_signature", centre.people[OPERATOR].signing))
    refusal = access.AccessDecision(request_id="acc-0003", decision="refuse", reason=next(iter(access.REFUSAL_REASONS)),
                                    principal_id=OPERATOR)
    with pytest.raises(Refusal):            # only a supervisor gives a reasoned refusal
        access.decide(centre, sign(refusal, "principal_signature", centre.people[OPERATOR].signing))
    receipts = refusals(centre, "access_request_receipt_refused")
    assert [(e["actor"], e["details"]) for e in receipts] == [
        (AUDITOR, {"request_id": "acc-0001", "code": "role_not_permitted"}),
        (OPERATOR, {"request_id": "acc-0002", "code": bad_signature})]
    (decision,) = refusals(centre, "access_decision_refused")
    assert decision["actor"] == OPERATOR and decision["rule"] and decision["details"] == {
        "request_id": "acc-0003", "decision": "refuse", "code": "role_not_permitted"}
    assert iin not in repr(receipts + [decision])
    assert centre.store.get(access.ACCESS, "acc-0003")["state"] == "received"     # the request itself stands


def test_a_truncated_tail_shows_against_the_published_head(centre, capsys, tmp_path):
    published = tmp_path / "auditor" / "head.json"
    assert main(["audit", "checkpoint", "--export", str(published)]) == 0      # signed head, given to the auditor
    centre.store.delete(COLLECTION, {"_id": {"$gt": 10}})     # the tail, the head and every copy at the centre
    centre.store.delete(META, {})
    (centre.settings.home / "audit-checkpoints" / "checkpoints.jsonl").unlink()
    capsys.readouterr()
    assert main(["audit", "verify", "--principal", AUDITOR, "--checkpoint", str(published)]) == 1
    out = capsys.readouterr().out
    assert "TRUNCATED: The trail ends at entry 10" in out and "entries 11 to 12 were removed from the end." in out
