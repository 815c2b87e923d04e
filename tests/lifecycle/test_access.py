"""Access requests (Rules 395 p.15-16): due dates on the Kazakhstan calendar, report content, refusals, overdue."""
from __future__ import annotations

import base64
from datetime import date, datetime, timezone

import pytest

from papilla.services.admission import intake
from papilla.services.lifecycle import access, commands, lifecycle_metrics
from papilla.shared import clock
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal.business_days import BusinessCalendar, CalendarSettings
from papilla.shared.principals import sign

from tests.helpers.retention import enroll, principal
from tests.helpers.centre import sealed_packet

IIN = make_test_iin(date(1979, 4, 4), False, 31)
FRIDAY = datetime(2026, 11, 20, 10, tzinfo=clock.LOCAL_TZ)


def _receive(centre, rid, iin=IIN, at=FRIDAY, who=None):
    who = who or principal(centre, "pr-op", "operator")
    request = sign(access.AccessRequest(request_id=rid, iin=iin, principal_id=who.party_id),
                   "principal_signature", who.signing)
    with clock.frozen(at):
        return access.receive(centre, request)


def _decide(centre, rid, decision, who, reason=None, at=FRIDAY):
    message = sign(access.AccessDecision(request_id=rid, decision=decision, reason=reason, principal_id=who.party_id),
                   "principal_signature", who.signing)
    with clock.frozen(at):
        return access.decide(centre, message)


def test_due_date_skips_the_weekend(centre, monkeypatch):
    monkeypatch.delenv("PAPILLA_EXTRA_HOLIDAYS", raising=False)
    doc = _receive(centre, "acc-weekend")
    assert doc["due_on"] == "2026-11-25"            # Friday → Mon, Tue, Wed
    assert doc["state"] == "received" and "p.16" in doc["rule"]
    assert centre.store.find_one("audit", {"action": "access_request_received"})["details"]["due_on"] == "2026-11-25"


def test_due_date_skips_the_kz_calendar_and_configured_holidays_and_counts_transferred_workdays(centre, monkeypatch):
    kz = BusinessCalendar()
    assert kz.add_business_days(date(2026, 12, 14), 3) == date(2026, 12, 18)   # 16 Dec, Independence Day
    assert kz.add_business_days(date(2025, 1, 3), 3) == date(2025, 1, 8)       # Sun 5 Jan 2025 worked; 7 Jan off
    monkeypatch.setenv("PAPILLA_EXTRA_HOLIDAYS", "2026-11-24")
    assert _receive(centre, "acc-holiday")["due_on"] == "2026-11-26"
    monkeypatch.setenv("PAPILLA_EXTRA_WORKDAYS", "2026-11-21")                 # a working Saturday
    assert _receive(centre, "acc-workday")["due_on"] == "2026-11-25"


def test_calendar_file_and_a_bad_value_is_one_sentence(tmp_path, monkeypatch):
    path = tmp_path / "calendar.toml"
    path.write_text('holidays = ["2026-11-23"]\nworkdays = []\n')
    monkeypatch.setenv("PAPILLA_CALENDAR_FILE", str(path))
    assert BusinessCalendar(CalendarSettings.from_env()).add_business_days(date(2026, 11, 20), 3) == date(2026, 11, 26)
    monkeypatch.setenv("PAPILLA_EXTRA_HOLIDAYS", "24.11.2026")
    with pytest.raises(Exception, match="PAPILLA_EXTRA_HOLIDAYS must list ISO dates"):
        CalendarSettings.from_env()


def test_report_lists_what_is_held_and_never_biometric_data(centre, fvc_dir):
    sealed = sealed_packet(centre, fvc_dir, "st-unit-01-acc", IIN, {1: "101_1", 2: "102_1"})
    accepted = intake.accept_enrollment(centre, sealed)
    enrollment = centre.store.get("enrollments", accepted.enrollment_id)
    assert enrollment["legal_basis"] == "public_service_authentication"
    assert centre.store.get("retention", accepted.enrollment_id)["term"] == "until_application"
    decrypted = []
    real_decrypt = centre.cipher.decrypt
    centre.cipher.decrypt = lambda sid, coll, *rest: decrypted.append(coll) or real_decrypt(sid, coll, *rest)
    _receive(centre, "acc-report")
    report = _decide(centre, "acc-report", "answer", principal(centre, "pr-op", "operator"))
    text = report.to_json()
    assert report.data_held and len(report.records) == 1
    assert report.consent == "GIVEN"                                # read from the consent record made at intake
    record = report.records[0]
    assert record.source == "station st-unit-01" and record.collected_on == "2026-11-22"
    assert "p.11" in record.term_rule and "applies for destruction" in record.storage_term
    assert any("authentication" in p for p in record.purposes)
    assert "fingerprint images of 2 finger(s), encrypted" in record.categories
    assert "biometrics" not in decrypted                            # images and templates never decrypted
    checked = 0
    for bio in centre.store.find("biometrics", {"enrollment_id": accepted.enrollment_id}):
        for field in ("image", "template"):   # what the biometrics documents hold
            blob = bio[field]
            for value in (blob.values() if isinstance(blob, dict) else [blob]):
                if isinstance(value, bytes) and len(value) > 8:
                    assert base64.b64encode(value).decode()[:24] not in text and value.hex()[:24] not in text
                    checked += 1
        assert f'"quality": {bio["quality"]}' not in text
    assert checked >= 4                                             # 2 fingers x image, template
    for secret in (IIN, "Unit Person", "minutiae\":", "finger_quality"):
        assert secret not in text
    assert centre.store.get("access_requests", "acc-report")["state"] == "answered"
    assert centre.store.get("access_requests", "acc-report")["on_time"] is True


def test_report_tells_the_storage_term_of_a_fixed_basis(centre):
    enroll(centre, "enr-visa", IIN, "visa", date(2020, 3, 3))
    _receive(centre, "acc-visa")
    report = _decide(centre, "acc-visa", "answer", principal(centre, "pr-op", "operator"))
    assert "until 2030-03-03" in report.records[0].storage_term and "2070-03-03" in report.records[0].storage_term


def test_no_data_held_is_still_answered(centre):
    _receive(centre, "acc-none", iin=make_test_iin(date(1990, 1, 1), True, 32))
    report = _decide(centre, "acc-none", "answer", principal(centre, "pr-op", "operator"))
    assert not report.data_held and report.records == ()


def test_refusal_is_reasoned_given_by_a_supervisor_and_timed(centre):
    _receive(centre, "acc-refuse")
    operator, supervisor = principal(centre, "pr-op", "operator"), principal(centre, "pr-sup", "supervisor")
    with pytest.raises(Refusal) as refused:
        _decide(centre, "acc-refuse", "refuse", operator, reason="identity_not_established")
    assert refused.value.code == "role_not_permitted" and "p.16 para.2" in refused.value.rule
    with pytest.raises(Refusal) as refused:
        _decide(centre, "acc-refuse", "refuse", supervisor)
    assert refused.value.code == "refusal_without_reason"
    late = datetime(2026, 11, 26, 9, tzinfo=clock.LOCAL_TZ)
    answer = _decide(centre, "acc-refuse", "refuse", supervisor, reason="identity_not_established", at=late)
    assert answer["reason"] == "identity_not_established" and "p.16 para.2" in answer["rule"]
    stored = centre.store.get("access_requests", "acc-refuse")
    assert stored["state"] == "refused" and stored["on_time"] is False
    with pytest.raises(Refusal) as refused:
        _decide(centre, "acc-refuse", "answer", operator)
    assert refused.value.code == "already_decided"


def test_overdue_requests_are_exposed_to_the_metrics(centre):
    _receive(centre, "acc-open")                                   # due 2026-11-25
    _receive(centre, "acc-done")
    _decide(centre, "acc-done", "answer", principal(centre, "pr-op", "operator"))
    assert access.overdue(centre, date(2026, 11, 25)) == []
    assert access.overdue(centre, date(2026, 11, 26)) == ["acc-open"]
    with clock.frozen(datetime(2026, 11, 26, 9, tzinfo=timezone.utc)):
        families = {f.name: f for f in lifecycle_metrics.LifecycleDeadlines(lambda: centre).collect()}
    assert families["papilla_access_requests_overdue"].samples[0].value == 1
    assert families["papilla_access_requests_open"].samples[0].value == 1


def test_a_blocked_subject_is_still_answered_and_told_the_data_are_blocked(centre):
    """Blocking stops using the information for the registration (Law Art.1 7), 11)); telling the subject what is
    held is their right (Rules 395 p.15) and uses nothing of it: answered, saying it is blocked (docs/legal.md)."""
    enroll(centre, "enr-acc-blk", IIN, "public_service_authentication", date(2025, 5, 5))
    assert commands.block(centre, {"_id": "req-acc-blk", "iin_hash": centre.hasher.hash(IIN), "principal_id": "b"},
                          blocked=True).status == "BLOCKED"
    _receive(centre, "acc-blocked")
    report = _decide(centre, "acc-blocked", "answer", principal(centre, "pr-op", "operator"))
    assert report.data_held and report.blocked is True
    assert centre.store.get("access_requests", "acc-blocked")["state"] == "answered"
