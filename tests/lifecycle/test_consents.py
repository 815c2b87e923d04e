"""Consent as data (services/lifecycle/consents.py): given at intake with who signed and who accepted, withdrawn
by the person or a representative with who accepted it, encrypted, destroyed with the subject; the consent state
read from the records; withdrawal destroys only under the public-service basis (Rules 395 p.6)."""
from __future__ import annotations

import shutil
from datetime import date, datetime, timezone

import pytest

from papilla.identity import ensure_sender
from papilla.services.admission import intake
from papilla.services.lifecycle import commands, consents, enrollments
from papilla.shared.crypto import sealing
from papilla.shared.crypto.envelope import EnvelopeCipher
from papilla.shared.crypto.errors import DataKeyDestroyed
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.messages import EnrollmentPacket, Finger, Present, encode
from papilla.shared.store import open_store

from tests.helpers.centre import STATION, job, signed_by_operator
from tests.helpers.retention import enroll
from tests.helpers.harness import FvcScanner
from tests.helpers.builders import identity

WARD = make_test_iin(date(1975, 5, 5), True, 51)
ADULT = make_test_iin(date(1988, 8, 8), False, 52)
VISA = make_test_iin(date(1990, 9, 9), True, 53)


def custodian_packet(centre, fvc_dir, packet_id: str, iin: str) -> bytes:
    """A person found incapacitated, enrolled in the presence and on the application of the custodian, who signs
    the consent (Rules 406 p.5)."""
    images = FvcScanner(fvc_dir / "DB1_B", {1: "108_1"}).images()
    now = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    packet = EnrollmentPacket(
        packet_id=packet_id, station_id=STATION, operator_id=centre.operator.party_id, captured_at=now,
        **identity(iin, "Unit Ward", operator_id=centre.operator.party_id, signed_on=now,
                   legal_capacity="incapacitated", present=(Present(role="custodian", written_application="app-77"),)),
        fingers=[Finger(position=1, status="captured", image=images[1].png, format="png", dpi=500)]
        + [Finger(position=p, status="injured") for p in range(2, 11)])
    return sealing.seal(encode(signed_by_operator(centre, packet)), sender_id=STATION, packet_id=packet_id,
                        signing_key=centre.station_key, centre_public=centre.keys.box.public_key())


def _sid(centre, iin):
    return centre.store.find_one("subjects", {"iin_hash": centre.hasher.hash(iin)})["_id"]


def test_consent_given_at_intake_names_who_signed_and_the_operator_who_accepted_it(centre, fvc_dir):
    accepted = intake.accept_enrollment(centre, custodian_packet(centre, fvc_dir, "st-unit-01-c1", WARD))
    state = consents.consent_state(centre, _sid(centre, WARD))
    assert state == consents.ConsentState(consents.GIVEN, state.at, "custodian", centre.operator.party_id,
                                          accepted.enrollment_id)
    stored = centre.store.get(consents.CONSENTS, f"{accepted.enrollment_id}:given")
    assert b"custodian" not in repr(stored).encode() and centre.operator.party_id not in repr(stored)   # encrypted
    # a redelivered packet does not record the consent twice
    intake.accept_enrollment(centre, custodian_packet(centre, fvc_dir, "st-unit-01-c1", WARD))
    assert centre.store.count(consents.CONSENTS, {"subject_id": _sid(centre, WARD)}) == 1


def test_no_record_reads_as_no_consent_not_as_given(centre):
    assert consents.consent_state(centre, "sub-unknown") == consents.ConsentState(consents.NONE)


def test_withdrawal_by_the_legal_representative_destroys_public_service_data_citing_rules_395(centre, fvc_dir,
                                                                                             tmp_path):
    intake.accept_enrollment(centre, custodian_packet(centre, fvc_dir, "st-unit-01-c2", WARD))
    sid = _sid(centre, WARD)
    centre.store.release_deleted()
    copy = tmp_path / "before.sqlite3"
    shutil.copy(centre.settings.home / "papilla.sqlite3", copy)
    done = commands._compute(centre, job(centre, "withdraw_consent", WARD, on_application_of="legal_representative"))
    assert (done.status, done.rule) == ("DESTROYED", "Rules 395, p.6")
    assert centre.store.count(consents.CONSENTS, {"subject_id": sid}) == 0            # destroyed with the subject
    destroyed = [e for e in centre.store.find("audit", {}) if e["action"] == "destroyed"][-1]["details"]
    assert destroyed["basis"] == "consent_withdrawn" and destroyed["rule"] == "Rules 395, p.6"
    old = open_store(f"sqlite:///{copy}")
    try:
        record = old.find_one(consents.CONSENTS, {"subject_id": sid})
        cipher = EnvelopeCipher(centre.vault, centre.provider)     # the live key vault, as after a restore
        with pytest.raises(DataKeyDestroyed):
            cipher.decrypt(sid, consents.CONSENTS, record["_id"], "record", record["record"])
    finally:
        old.close()


def test_withdrawal_while_blocked_is_recorded_and_destruction_deferred(centre):
    ensure_sender(centre, centre.settings, "pr-body", "principal", role="authorised_body")
    enroll(centre, "enr-c3", ADULT, "public_service_authentication", date(2025, 3, 3))
    assert commands.block(centre, job(centre, "block", ADULT), blocked=True).status == "BLOCKED"
    refused = commands._compute(centre, dict(job(centre, "withdraw_consent", ADULT), _id="req-wd-blocked"))
    assert (refused.status, refused.reason) == ("REFUSED", "subject_blocked") and "Art.1 7)" in refused.rule
    state = consents.consent_state(centre, _sid(centre, ADULT))
    assert (state.state, state.by, state.accepted_by) == (consents.WITHDRAWN, "subject", "pr-op")
    assert centre.store.get("enrollments", "enr-c3") is not None
    deferred = [e for e in centre.store.find("audit", {}) if e["action"] == "destruction_deferred"]
    assert deferred[-1]["details"]["basis"] == "consent_withdrawn"
    unblocked = commands.block(centre, job(centre, "unblock", ADULT), blocked=False)
    assert (unblocked.status, unblocked.reason) == ("UNBLOCKED", "destruction_deferred")   # the branch sends it again
    done = commands._compute(centre, dict(job(centre, "withdraw_consent", ADULT), _id="req-wd-again"))
    assert (done.status, done.rule) == ("DESTROYED", "Rules 395, p.6")


def test_withdrawal_under_a_basis_of_the_law_is_recorded_and_the_term_kept(centre):
    enroll(centre, "enr-c4", VISA, "visa", date(2024, 4, 4))
    refused = commands._compute(centre, dict(job(centre, "withdraw_consent", VISA), _id="req-wd-visa"))
    assert (refused.status, refused.reason) == ("REFUSED", "storage_term_set_by_law")
    assert "Art.15 p.1" in refused.rule and "Art.15 p.1" in refused.detail
    assert consents.consent_state(centre, _sid(centre, VISA)).state == consents.WITHDRAWN
    assert centre.store.get("enrollments", "enr-c4")["state"] == "ACTIVE"


def test_depersonalization_seals_who_signed_and_accepted_and_removal_restores_them(centre, fvc_dir):
    ensure_sender(centre, centre.settings, "pr-body", "principal", role="authorised_body")
    intake.accept_enrollment(centre, custodian_packet(centre, fvc_dir, "st-unit-01-c5", WARD))
    sid = _sid(centre, WARD)
    enrollments.settle(centre, "st-unit-01-c5", [], None)
    act = dict(job(centre, "depersonalize", WARD), principal_id="pr-body")
    assert commands._compute(centre, act).status == "DEPERSONALIZED"
    assert "record" not in centre.store.find_one(consents.CONSENTS, {"subject_id": sid})
    assert consents.consent_state(centre, sid).by is None          # the state stays; who signed is sealed apart
    assert consents.consent_state(centre, sid).state == consents.GIVEN
    back = dict(act, _id="req-undo", action="remove_depersonalization")
    assert commands._compute(centre, back).status == "DEPERSONALIZATION_REMOVED"
    assert consents.consent_state(centre, sid).by == "custodian"
