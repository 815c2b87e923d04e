"""The decision wired in: the station decides before capture and puts the rule on its receipt; the centre decides
again on the packet (never trusting the station's decision) and stores the rule that allowed the enrollment."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.services.admission import intake
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.messages import (DecisionRecord, Present)

from tests.helpers.builders import papers
from tests.helpers.legal import LAW, packet_for
from tests.helpers.station import CountingScanner

def test_the_centre_stores_the_rule_that_allowed_the_enrollment(centre, fvc_dir):
    sealed = packet_for(centre, fvc_dir, "st-unit-01-visa", make_test_iin(date(1990, 2, 3), True, 5), basis="visa",
                        citizenship="foreigner")
    accepted = intake.accept_enrollment(centre, sealed)
    doc = centre.store.get("enrollments", accepted.enrollment_id)
    assert doc["legal_basis"] == "visa"
    assert (doc["decision"]["decision"], doc["decision"]["citation"]) == ("mandatory", LAW + "Art.10 p.2 sub.6")
    assert {"rule": "injured_fingers_skipped", "citation": "Rules 406, p.7"} in doc["decision"]["also"]


def test_a_station_bypassed_is_caught_at_the_centre_whatever_decision_it_claims(centre, fvc_dir):
    claimed = DecisionRecord(decision="voluntary", rule="passport_child_voluntary", citation=LAW + "Art.10 p.4")
    child = make_test_iin(date(2013, 6, 1), False, 9)
    sealed = packet_for(centre, fvc_dir, "st-unit-01-child", child, basis="passport_child_12_16", claimed=claimed)
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, sealed)
    assert (err.value.code, err.value.rule) == ("representative_required", LAW + "Art.11 p.2")
    assert err.value.request_id == "st-unit-01-child" and centre.store.count("subjects", {}) == 0
    with_parent = packet_for(centre, fvc_dir, "st-unit-01-child2", child, basis="passport_child_12_16",
                             present=(Present(role="legal_representative", written_application="app-9"),))
    doc = centre.store.get("enrollments", intake.accept_enrollment(centre, with_parent).enrollment_id)
    assert (doc["decision"]["decision"], doc["decision"]["citation"]) == ("voluntary", LAW + "Art.10 p.4")


def test_a_citizen_sent_under_a_foreigners_basis_is_refused_at_the_centre(centre, fvc_dir):
    sealed = packet_for(centre, fvc_dir, "st-unit-01-rp", make_test_iin(date(1990, 2, 3), True, 6),
                        basis="residence_permit")
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, sealed)
    assert (err.value.code, err.value.rule) == ("wrong_applicant_category", LAW + "Art.10 p.2 sub.2")


def test_the_station_refuses_before_capture_and_names_the_rule(offline_station):
    scanner = CountingScanner()
    with pytest.raises(Refusal) as err:
        offline_station.enroll(**papers(make_test_iin(date(2013, 6, 1), True, 3)), full_name="Child", scanner=scanner,
                               operator=offline_station.operator, basis="passport_child_12_16",
                               today=date(2026, 11, 22))
    assert (err.value.code, err.value.rule) == ("representative_required", LAW + "Art.11 p.2")
    with pytest.raises(Refusal) as err:
        offline_station.enroll(**papers(make_test_iin(date(1990, 6, 1), True, 3)), full_name="Returning",
                               scanner=scanner,
                               operator=offline_station.operator, basis="visa",
                               citizenship="foreigner", reenrollment_reason="document_replacement")
    assert (err.value.code, err.value.rule) == ("already_registered", LAW + "Art.10 p.3")
    assert scanner.captures == 0


def test_the_receipt_carries_the_rule_and_the_packet_the_decision(offline_station, data_dir):
    from papilla.services.capture.devices import FolderScanner

    scanner = FolderScanner(data_dir / "samples", {1: "probe.png"})
    report = offline_station.enroll(**papers(make_test_iin(date(1980, 6, 1), True, 3)), full_name="Sailor",
                                    scanner=scanner, operator=offline_station.operator,
                                    basis="seafarer", finger_status={p: "captured" if p == 1 else "amputated"
                                                                     for p in range(1, 11)})
    assert (report.decision.decision, report.decision.citation) == ("mandatory", LAW + "Art.10 p.2 sub.1")
    assert ("printable_fingers_only", "Rules 406, p.6-7, p.10") in report.decision.also
