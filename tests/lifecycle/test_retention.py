"""Retention terms per legal basis (Law Art.15), the events that start one, the sweep over records before, at and
after their due dates, and acts of destruction approved by two people (Art.17)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from papilla.services.lifecycle import commands, destruction_acts, retention
from papilla.shared import clock
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal.bases import BASES, add_years, basis, fixed_dates
from papilla.shared.principals import sign

from tests.helpers.retention import enroll, principal

VISA_IIN = make_test_iin(date(1980, 1, 1), True, 11)


def test_each_basis_has_its_term_with_its_citation():
    visa = fixed_dates(basis("visa").term, date(2016, 11, 22))
    assert (visa.archive_on, visa.destroy_on) == (date(2026, 11, 22), date(2066, 11, 22))
    assert "Art.15 p.1" in basis("visa").term.citation and "Art.15 p.2" in basis("visa").term.citation
    for fixed in ("seafarer", "residence_permit", "residence_card", "asylum_refugee", "deportation_readmission",
                  "visa", "passport_child_12_16"):
        assert BASES[fixed].term.years == 10 and BASES[fixed].term.archive_years == 40
    assert fixed_dates(basis("id_document").term, date(2016, 1, 1)).destroy_on is None     # only after an event
    assert basis("id_document").term.age == 100 and "Art.15 p.1" in basis("id_document").term.citation
    assert fixed_dates(basis("public_service_authentication").term, date(2016, 1, 1)).archive_on is None
    assert "p.11" in basis("public_service_authentication").term.citation


def test_a_leap_day_term_ends_on_the_last_day_of_february():
    assert add_years(date(2016, 2, 29), 10) == date(2026, 2, 28)
    assert add_years(date(2016, 2, 29), 12) == date(2028, 2, 29)


def test_registration_date_is_the_kazakhstan_calendar_date(centre):
    late_evening_utc = datetime(2016, 11, 21, 20, 0, tzinfo=timezone.utc)     # 01:00 on 22 Nov in Almaty
    doc = retention.record_term(centre, "enr-tz", "sub-x", "visa", late_evening_utc)
    assert doc["registered_on"] == "2016-11-22" and doc["archive_on"] == "2026-11-22"


def test_sweep_archives_records_due_before_and_at_today_and_leaves_those_due_after(centre):
    for eid, registered, serial in (("enr-before", date(2016, 11, 21), 1), ("enr-at", date(2016, 11, 22), 2),
                                    ("enr-after", date(2016, 11, 23), 3)):
        enroll(centre, eid, make_test_iin(date(1980, 1, 1), True, serial), "visa", registered)
    report = retention.sweep(centre, today=date(2026, 11, 22))
    assert sorted(report.archived) == ["enr-at", "enr-before"] and report.proposed == []
    for eid in ("enr-before", "enr-at"):
        assert centre.store.get("enrollments", eid)["state"] == "ARCHIVED"
        assert not centre.store.get("gallery", eid)["active"]              # out of 1:N, kept in the archive
    assert centre.store.get("enrollments", "enr-after")["state"] == "ACTIVE"
    assert centre.store.get("gallery", "enr-after")["active"]
    again = retention.sweep(centre, today=date(2026, 11, 22))
    assert again.archived == [] and again.proposed == []                  # nothing done twice
    assert any(e["action"] == "retention_archived" and "Art.15 p.2" in e["details"]["rule"]
               for e in centre.store.find("audit", {"action": "retention_archived"}))


def test_after_the_archive_term_the_sweep_proposes_destruction_and_destroys_nothing(centre):
    enroll(centre, "enr-old", VISA_IIN, "visa", date(2016, 11, 22))
    assert retention.sweep(centre, today=date(2066, 11, 21)).proposed == []   # archived, destruction not yet due
    report = retention.sweep(centre, today=date(2066, 11, 22))
    assert report.proposed == ["enr-old"] and report.act_id
    act = centre.store.get("destruction_acts", report.act_id)
    assert act["state"] == "proposed" and "Art.17 p.3" in act["rule"]
    assert centre.store.get("enrollments", "enr-old") is not None           # still there: no act approved
    assert retention.sweep(centre, today=date(2067, 1, 1)).proposed == []   # proposed once


def _signature(centre, act_id, decision, who, signer=None):
    act = centre.store.get("destruction_acts", act_id)
    message = destruction_acts.ActSignature(act_id=act_id, digest=act["digest"], decision=decision,
                                            principal_id=who.party_id)
    return sign(message, "principal_signature", (signer or who).signing)


@pytest.fixture
def proposed_act(centre):
    enroll(centre, "enr-old", VISA_IIN, "visa", date(2016, 11, 22))
    return retention.sweep(centre, today=date(2066, 11, 22)).act_id


def test_destruction_needs_the_head_of_unit_and_a_second_person(centre, proposed_act):
    head = principal(centre, "pr-head", "head_of_unit")
    admin = principal(centre, "pr-admin", "administrator")
    operator = principal(centre, "pr-op", "operator")
    with pytest.raises(Refusal) as refused:
        destruction_acts.sign_act(centre, _signature(centre, proposed_act, "approve", operator))
    assert refused.value.code == "role_not_permitted" and "Art.17 p.3" in refused.value.rule
    with pytest.raises(Refusal) as refused:
        destruction_acts.execute(centre, proposed_act)
    assert refused.value.code == "act_not_approved"
    assert destruction_acts.sign_act(centre, _signature(centre, proposed_act, "approve", head)) == "proposed"
    with pytest.raises(Refusal) as refused:     # the same person cannot be both signatures
        destruction_acts.sign_act(centre, _signature(centre, proposed_act, "approve", head))
    assert refused.value.code == "same_person_twice"
    with pytest.raises(Refusal) as refused:     # forged: the admin's name, the operator's key
        destruction_acts.sign_act(centre, _signature(centre, proposed_act, "countersign", admin, signer=operator))
    assert refused.value.code == "bad_principal_signature"
    assert retention.sweep(centre, today=date(2066, 11, 23)).executed == []
    assert centre.store.get("enrollments", "enr-old") is not None
    assert destruction_acts.sign_act(centre, _signature(centre, proposed_act, "countersign", admin)) == "approved"
    sid = centre.store.get("enrollments", "enr-old")["subject_id"]
    report = retention.sweep(centre, today=date(2066, 11, 23))
    assert report.executed == [proposed_act]
    assert centre.store.get("destruction_acts", proposed_act)["state"] == "executed"
    assert centre.store.get("enrollments", "enr-old") is None and centre.store.get("subjects", sid) is None
    assert centre.store.count("biometrics", {"subject_id": sid}) == 0
    assert centre.cipher.key_state(sid) == "destroyed"
    signers = {s["role"] for s in centre.store.get("destruction_acts", proposed_act)["signatures"]}
    assert signers == {"head_of_unit", "administrator"}


def test_a_signature_over_another_list_is_refused(centre, proposed_act):
    head = principal(centre, "pr-head", "head_of_unit")
    message = destruction_acts.ActSignature(act_id=proposed_act, digest="0" * 64, decision="approve",
                                            principal_id=head.party_id)
    with pytest.raises(Refusal) as refused:
        destruction_acts.sign_act(centre, sign(message, "principal_signature", head.signing))
    assert refused.value.code == "act_digest_mismatch"


def test_a_blocked_subject_is_neither_archived_nor_destroyed(centre):
    enroll(centre, "enr-blocked", VISA_IIN, "visa", date(2016, 11, 22))
    sid = centre.store.get("enrollments", "enr-blocked")["subject_id"]
    assert commands.block(centre, {"_id": "req-ret-blk", "iin_hash": centre.hasher.hash(VISA_IIN),
                                   "principal_id": "body"}, blocked=True).status == "BLOCKED"
    assert centre.store.get("subjects", sid)["state"] == "BLOCKED"
    report = retention.sweep(centre, today=date(2070, 1, 1))
    assert report.held_blocked == ["enr-blocked"] and report.archived == [] and report.proposed == []
    assert centre.store.get("enrollments", "enr-blocked")["state"] == "ACTIVE"


def _event(centre, who, event_id, iin, event="death", signer=None):
    act = retention.RetentionEvent(event_id=event_id, iin=iin, event=event, occurred_on=date(2030, 5, 1),
                                   document_ref="AZ-2030-0001", principal_id=who.party_id)
    return sign(act, "principal_signature", (signer or who).signing)


def test_id_document_term_starts_with_a_recorded_event_and_ends_at_the_hundredth_birthday(centre):
    iin = make_test_iin(date(1950, 6, 15), False, 21)
    enroll(centre, "enr-idcard", iin, "id_document", date(2016, 3, 1))
    assert retention.sweep(centre, today=date(2120, 1, 1)).proposed == []      # alive citizen: no term runs
    operator, body = principal(centre, "pr-op", "operator"), principal(centre, "pr-body", "authorised_body")
    with pytest.raises(Refusal) as refused:
        retention.record_event(centre, _event(centre, operator, "evt-1", iin))
    assert refused.value.code == "role_not_permitted" and "Art.15 p.1" in refused.value.rule
    with clock.frozen(datetime(2030, 5, 3, 9, tzinfo=timezone.utc)):
        outcome = retention.record_event(centre, _event(centre, body, "evt-1", iin))
    assert outcome.terms_started == 1 and "Art.15 p.1" in outcome.rule
    doc = centre.store.get("retention", "enr-idcard")
    assert doc["next_on"] == "2050-01-01" and "2050-06-15" not in repr(doc)    # no birth date in clear
    assert retention.destroy_date(centre, doc) == date(2050, 6, 15)
    early = retention.sweep(centre, today=date(2050, 6, 14))
    assert early.proposed == [] and early.not_yet == 1
    assert retention.sweep(centre, today=date(2050, 6, 15)).proposed == ["enr-idcard"]


def test_an_event_recorded_after_the_hundredth_birthday_makes_the_record_due_at_once(centre):
    iin = make_test_iin(date(1925, 2, 2), True, 22)
    enroll(centre, "enr-centenarian", iin, "id_document", date(2016, 3, 1))
    body = principal(centre, "pr-body", "authorised_body")
    with clock.frozen(datetime(2026, 11, 23, 9, tzinfo=timezone.utc)):
        retention.record_event(centre, _event(centre, body, "evt-2", iin, event="citizenship_renounced"))
        assert retention.sweep(centre).proposed == ["enr-centenarian"]


def test_events_do_not_change_fixed_terms_nor_the_public_service_basis(centre):
    iin = make_test_iin(date(1960, 1, 1), True, 23)
    enroll(centre, "enr-ps", iin, "public_service_authentication", date(2020, 1, 1))
    body = principal(centre, "pr-body", "authorised_body")
    assert retention.record_event(centre, _event(centre, body, "evt-3", iin)).terms_started == 0
    assert retention.sweep(centre, today=date(2200, 1, 1)).proposed == []


def test_expired_enrollment_goes_alone_when_the_subject_has_another_in_term(centre, proposed_act):
    sid = centre.store.get("enrollments", "enr-old")["subject_id"]
    centre.store.update("enrollments", {"_id": "enr-old"}, set={"state": "ARCHIVED"})
    enroll(centre, "enr-new", VISA_IIN, "visa", date(2060, 1, 1))            # same person, later visa
    head, admin = principal(centre, "pr-head", "head_of_unit"), principal(centre, "pr-admin", "administrator")
    destruction_acts.sign_act(centre, _signature(centre, proposed_act, "approve", head))
    destruction_acts.sign_act(centre, _signature(centre, proposed_act, "countersign", admin))
    assert destruction_acts.execute(centre, proposed_act).destroyed == ("enr-old",)
    assert centre.store.get("enrollments", "enr-old") is None
    assert centre.store.count("biometrics", {"enrollment_id": "enr-old"}) == 0
    kept = centre.store.get("biometrics", "enr-new:1")
    assert centre.cipher.decrypt(sid, "biometrics", "enr-new:1", "image", kept["image"])   # still readable


def test_the_clock_can_be_set_by_tests_and_by_environment(monkeypatch):
    with clock.frozen(datetime(2031, 12, 31, 20, tzinfo=timezone.utc)):
        assert clock.today() == date(2032, 1, 1)                            # already 1 January in Almaty
    monkeypatch.setenv("PAPILLA_CLOCK", "2040-02-03T10:00:00+05:00")
    assert clock.today() == date(2040, 2, 3)
    monkeypatch.setenv("PAPILLA_CLOCK", "tomorrow")
    with pytest.raises(Exception, match="PAPILLA_CLOCK must be an ISO-8601 instant"):
        clock.now()
