"""The state machine (shared/legal/states.py): every transition allowed with its citation, every other one refused
naming the current state, the asked trigger and the citation, and the table in docs/legal.md equal to the code's.

Behaviour through the real code (intake, settle, lifecycle commands, the sweep) is in the tests below the
table-driven ones: each drives one transition and checks the state reached and the citation it was recorded or
refused with."""
from __future__ import annotations

import ast
import itertools
from datetime import date
from pathlib import Path

import pytest

from papilla.identity import ensure_sender
from papilla.services.admission import intake
from papilla.services.lifecycle import commands, enrollments, retention
from papilla.services.match import matching
from papilla.services.match.gallery import Gallery
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal import states
from papilla.shared.legal.rules import rule

from tests.helpers.retention import enroll
from tests.helpers.centre import enrolled, job, reenrollment_packet, sealed_packet

DOC = Path(__file__).resolve().parents[2] / "docs" / "legal.md"
ALLOWED = [(t, src) for t in states.TRANSITIONS for src in t.src]
TRIGGERS = sorted({(t.machine, t.trigger) for t in states.TRANSITIONS})
STATES = {states.ENROLLMENT: states.ENROLLMENT_STATES, states.SUBJECT: states.SUBJECT_STATES}
REFUSED = [(machine, state, trigger) for machine, trigger in TRIGGERS for state in STATES[machine]
           if not any(state in t.src for t in states.rows(machine, trigger))]
ART_1_7 = rule("blocking_stops_processing").citation
IIN = make_test_iin(date(1984, 4, 4), True, 41)
OTHER = make_test_iin(date(1986, 6, 6), False, 42)


@pytest.mark.parametrize("row,src", ALLOWED, ids=[f"{t.machine}:{s}-{t.trigger}" for t, s in ALLOWED])
def test_each_transition_is_allowed_from_its_states_with_its_citation(row, src):
    subject_state = states.BLOCKED if row.while_blocked and row.machine == states.ENROLLMENT else None
    found = states.transition(row.machine, src, row.trigger, subject_state=subject_state)
    assert found == row and found.citation == rule(row.rule_id).citation
    reached = states.target(found, src, states.DEPERSONALIZED)
    assert reached == {states.KEEP: src, states.PREVIOUS: states.DEPERSONALIZED}.get(row.dst, row.dst)


@pytest.mark.parametrize("machine,state,trigger", REFUSED, ids=["-".join(r) for r in REFUSED])
def test_each_transition_not_in_the_table_is_refused_naming_state_trigger_and_citation(machine, state, trigger):
    with pytest.raises(Refusal) as refused:
        states.transition(machine, state, trigger, record="r-1")
    blocked = machine == states.SUBJECT and state == states.BLOCKED
    expected = ART_1_7 if blocked else states.rows(machine, trigger)[0].citation
    assert refused.value.code == ("subject_blocked" if blocked else "invalid_transition")
    assert refused.value.rule == expected and expected in refused.value.detail
    assert f" is {state}" in refused.value.detail and trigger in refused.value.detail


@pytest.mark.parametrize("row,src", [(t, s) for t, s in ALLOWED if t.machine == states.ENROLLMENT
                                     and not t.while_blocked],
                         ids=[f"{t.trigger}-from-{s}" for t, s in ALLOWED if t.machine == states.ENROLLMENT
                              and not t.while_blocked])
def test_no_enrollment_transition_but_holding_it_applies_while_its_subject_is_blocked(row, src):
    with pytest.raises(Refusal) as refused:
        states.transition(states.ENROLLMENT, src, row.trigger, subject_state=states.BLOCKED, record="e-1")
    assert refused.value.code == "subject_blocked" and refused.value.rule == ART_1_7
    assert f"e-1 is {src} and its subject is BLOCKED" in refused.value.detail


def test_the_table_in_docs_legal_md_is_the_code_table():
    text = DOC.read_text()
    for machine in (states.ENROLLMENT, states.SUBJECT):
        assert states.markdown_table(machine) in text, f"docs/legal.md: the {machine} table differs from the code"
    # every rule a transition cites exists, and every trigger appears exactly once per (machine, from-state)
    seen = [(t.machine, s, t.trigger) for t in states.TRANSITIONS for s in t.src]
    assert len(seen) == len(set(seen))


# -- through the real code ---------------------------------------------------------------------------------------

def _audit(centre, action: str) -> list[dict]:
    return [e for e in centre.store.find("audit", {}) if e["action"] == action]


@pytest.fixture
def body(centre):
    ensure_sender(centre, centre.settings, "pr-body", "principal", role="authorised_body")
    return "pr-body"


def test_extracted_admitted_and_archived_on_recollection_each_cite_their_rule(centre, fvc_dir):
    first, result = enrolled(centre, fvc_dir, "st-unit-01-s1", IIN, {1: "101_1"})
    doc = centre.store.get("enrollments", first)
    assert (result.status, doc["state"], doc["state_trigger"]) == ("ACTIVE", "ACTIVE", "admitted")
    activated = _audit(centre, "enrollment_activated")[-1]["details"]
    assert activated["rule"] == rule("accumulation_in_resource").citation == \
        "Law on dactyloscopic and genomic registration, Art.14"
    damaged = intake.accept_enrollment(centre, reenrollment_packet(centre, fvc_dir, IIN))
    assert centre.store.get("enrollments", damaged.enrollment_id)["state"] == "EXTRACTED"
    assert enrollments.settle(centre, damaged.enrollment_id,
                              *matching.deduplicate(centre, Gallery(centre), damaged.enrollment_id)).status == "ACTIVE"
    archived = centre.store.get("enrollments", first)
    assert (archived["state"], archived["state_trigger"]) == ("ARCHIVED", "recollected")
    assert _audit(centre, "enrollment_archived")[-1]["details"]["rule"] == "Rules 406, p.8-9"


def test_held_for_review_then_adjudicated_either_way_and_refused_once_decided(centre, fvc_dir):
    ensure_sender(centre, centre.settings, "pr-adj", "principal", role="adjudicator")
    enrolled(centre, fvc_dir, "st-unit-01-s2", IIN, {1: "102_1", 2: "103_1"})
    twin, result = enrolled(centre, fvc_dir, "st-unit-01-s3", OTHER, {1: "102_2", 2: "103_2"})
    assert result.status == "PENDING_REVIEW" and result.reason == "possible_duplicate"
    assert centre.store.get("enrollments", twin)["state_trigger"] == "held_for_review"
    assert _audit(centre, "duplicate_flagged")[-1]["details"]["rule"] == rule("reapplicant_verified").citation
    done = commands.adjudicate(centre, job(centre, "adjudicate", enrollment_id=twin, decision="same_person_reject"))
    assert done.status == "REJECTED"
    assert _audit(centre, "adjudicated")[-1]["details"]["rule"] == "Law on dactyloscopic and genomic registration, " \
                                                                   "Art.10 p.3"
    again = commands.adjudicate(centre, dict(job(centre, "adjudicate", enrollment_id=twin, decision="distinct_person"),
                                             _id="req-adj-again"))
    assert (again.status, again.reason) == ("REFUSED", "invalid_transition")
    assert again.rule == rule("accumulation_in_resource").citation
    assert f"enrollment {twin} is REJECTED: adjudicated_distinct applies only from PENDING_REVIEW" in again.detail


def test_adjudicated_distinct_joins_the_gallery(centre, fvc_dir):
    enrolled(centre, fvc_dir, "st-unit-01-s4", IIN, {1: "104_1", 2: "105_1"})
    twin, _ = enrolled(centre, fvc_dir, "st-unit-01-s5", OTHER, {1: "104_2", 2: "105_2"})
    done = commands.adjudicate(centre, job(centre, "adjudicate", enrollment_id=twin, decision="distinct_person"))
    assert done.status == "ACTIVE" and centre.store.get("gallery", twin)["active"]
    assert _audit(centre, "adjudicated")[-1]["details"]["rule"] == rule("accumulation_in_resource").citation


def test_held_blocked_when_the_subject_is_blocked_between_intake_and_settle(centre, fvc_dir, body):
    # two packets of one person in flight together (once the first is ACTIVE a new application is a verification)
    first = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-s6", IIN, {1: "106_1"}))
    pending = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-s7", IIN, {1: "106_2"}))
    assert enrollments.settle(centre, first.enrollment_id, [], None).status == "ACTIVE"
    assert commands.block(centre, job(centre, "block", IIN), blocked=True).status == "BLOCKED"
    result = enrollments.settle(centre, pending.enrollment_id, [], None)
    assert (result.status, result.reason) == ("PENDING_REVIEW", "subject_blocked")
    assert centre.store.get("enrollments", pending.enrollment_id)["state_trigger"] == "held_blocked"


def test_a_blocked_subject_is_not_enrolled_again_and_block_unblock_are_refused_twice(centre, fvc_dir, body):
    enrolled(centre, fvc_dir, "st-unit-01-s8", IIN, {1: "107_1"})
    assert commands.block(centre, job(centre, "block", IIN), blocked=True).rule == rule("blocking").citation
    with pytest.raises(Refusal) as refused:
        intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-s9", IIN, {1: "107_2"}))
    assert refused.value.code == "subject_blocked" and refused.value.rule == ART_1_7
    assert "subject is BLOCKED: enrolled is not allowed" in refused.value.detail
    twice = commands.block(centre, dict(job(centre, "block", IIN), _id="req-block-2"), blocked=True)
    assert (twice.status, twice.reason, twice.rule) == ("REFUSED", "subject_blocked", ART_1_7)
    assert commands.block(centre, job(centre, "unblock", IIN), blocked=False).status == "UNBLOCKED"
    again = commands.block(centre, dict(job(centre, "unblock", IIN), _id="req-unblock-2"), blocked=False)
    assert (again.status, again.reason) == ("REFUSED", "invalid_transition")
    assert again.rule == rule("blocking_by_authorised_body").citation and "is REGISTERED: unblock" in again.detail
    with pytest.raises(Refusal) as unblocked:   # no longer refused as blocked: the registered person is verified
        intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, "st-unit-01-s9", IIN, {1: "107_2"}))
    assert unblocked.value.code != "subject_blocked" and "Rules 406, p.8" in unblocked.value.rule


def test_retention_archive_and_expiry_go_through_the_machine(centre):
    enroll(centre, "enr-st-1", IIN, "visa", date(2016, 11, 22))
    retention.sweep(centre, today=date(2026, 11, 23))
    archived = centre.store.get("enrollments", "enr-st-1")
    assert (archived["state"], archived["state_trigger"]) == ("ARCHIVED", "retention_archived")
    sid = archived["subject_id"]
    done = commands.destroy(centre, {"_id": "req-st-exp", "iin_hash": centre.hasher.hash(IIN),
                                     "principal_id": "pr-head"}, trigger="retention_expired")
    assert (done.status, done.rule) == ("DESTROYED", "Law on dactyloscopic and genomic registration, Art.17 p.2")
    assert centre.store.get("subjects", sid) is None
    assert _audit(centre, "destroyed")[-1]["details"]["basis"] == "retention_expired"


def test_destruction_first_moves_the_subject_so_a_block_arriving_later_is_refused(centre, body):
    """An interrupted destruction (subject DESTROYED, documents still there) is completed by the redelivery,
    and blocking it meanwhile is refused: nothing can bring a subject back once destruction began."""
    enroll(centre, "enr-st-2", IIN, "public_service_authentication", date(2025, 1, 1))
    subject = centre.store.find_one("subjects", {"iin_hash": centre.hasher.hash(IIN)})
    assert states.move_subject(centre.store, subject, "destroyed_on_application") == states.DESTROYED
    blocked = commands.block(centre, job(centre, "block", IIN), blocked=True)
    assert (blocked.status, blocked.reason) == ("REFUSED", "invalid_transition")
    assert "is DESTROYED: block applies only from DEPERSONALIZED, REGISTERED" in blocked.detail
    done = commands.destroy(centre, job(centre, "destroy", IIN), trigger="destroyed_on_application")
    assert done.status == "DESTROYED" and done.rule == "Rules 406, p.11"
    assert centre.store.count("enrollments", {"subject_id": subject["_id"]}) == 0


RECORDS = {"ENROLLMENTS", "SUBJECTS", "enrollments", "subjects"}


def direct_state_writes(source: str) -> list[int]:
    """Lines of `source` that write a `state` into enrollments or subjects without the machine: an update whose
    `set` names "state", or an insert whose document's "state" is not taken from `states`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        target = node.args[0]
        name = target.id if isinstance(target, ast.Name) else getattr(target, "value", None)
        if name not in RECORDS:
            continue
        docs = [k.value for k in node.keywords if k.arg == "set"] if node.func.attr == "update" else \
            node.args[1:2] if node.func.attr == "insert" else []
        for doc in docs:
            for key, value in zip(getattr(doc, "keys", []), getattr(doc, "values", [])):
                if isinstance(key, ast.Constant) and key.value == "state" and not (
                        node.func.attr == "insert" and "states." in ast.unparse(value)):
                    found.append(node.lineno)
    return found


def test_every_state_write_in_the_services_goes_through_the_machine():
    """No module but the machine writes a `state` into enrollments or subjects."""
    root = Path(__file__).resolve().parents[2]
    offenders = [f"{path.relative_to(root)}:{line}"
                 for path in itertools.chain((root / "services").rglob("*.py"), (root / "shared").rglob("*.py"),
                                             (root / "papilla").rglob("*.py"))
                 if path.name != "states.py" for line in direct_state_writes(path.read_text())]
    assert offenders == []
    # the check finds the writes this module replaced (retention's archive and adjudication's rejection, before)
    assert direct_state_writes('store.update(ENROLLMENTS, {"_id": e, "state": "ACTIVE"},\n'
                               '             set={"state": "ARCHIVED"})') == [1]
    assert direct_state_writes('store.insert("subjects", {"_id": s, "state": "BLOCKED"})') == [1]
    assert direct_state_writes('store.insert(SUBJECTS, {"_id": s, "state": states.REGISTERED})') == []
