"""The legal decision per application: one test per rule and boundary, each asserting decision AND citation.

Pure: no store, no broker. The table these tests walk is docs/legal.md "Decision table".
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from papilla.shared.legal.bases import BASES, EXEMPTIONS
from papilla.shared.legal.decide import (DECISIONS, Application, ApplicationError, Attendee, Policy, decide,
                                         from_packet)
from papilla.shared.legal.rules import RULES
from tests.helpers.builders import identity

LAW = "Law on dactyloscopic and genomic registration, "
TODAY = date(2026, 11, 23)
ALL = range(1, 11)


def born(age: int, *, days_after: int = 0) -> date:
    """Birth date giving `age` on TODAY (days_after > 0: the birthday is that many days later)."""
    day = TODAY.replace(year=TODAY.year - age)
    return day.fromordinal(day.toordinal() + days_after)


def app(basis="public_service_authentication", age=30, **kw) -> Application:
    birth = kw.pop("birth", None) or born(age)
    return Application(basis=basis, birth=birth, applied_at=kw.pop("applied_at", TODAY), **kw)


def outcome(application: Application) -> tuple[str, str]:
    d = decide(application)
    assert d.decision in DECISIONS and d.citation == RULES[d.rule].citation
    return d.decision, d.citation


FOREIGN = dict(citizenship="foreigner")
CUSTODIAN = (Attendee("custodian", "app-17/2026"),)
REPRESENTATIVE = (Attendee("legal_representative", "app-18/2026"),)


# ---------------------------------------------------------------- public-service authentication (Rules 406)

@pytest.mark.parametrize("age,days_after,expected", [
    (18, 0, ("voluntary", "Rules 406, p.4")),           # the 18th birthday is today
    (18, 1, ("refused", "Rules 406, p.4")),             # 18 tomorrow: still 17
    (17, 0, ("refused", "Rules 406, p.4")),
    (19, 0, ("voluntary", "Rules 406, p.4")),
])
def test_public_service_is_for_adults_only(age, days_after, expected):
    assert outcome(app(birth=born(age, days_after=days_after))) == expected


def test_the_18th_birthday_at_two_in_the_morning_local_is_18_not_17_as_in_utc():
    birth = date(2008, 5, 18)
    two_am_almaty = datetime(2026, 5, 17, 21, 0, tzinfo=timezone.utc)    # 02:00 on 18 May in Almaty (UTC+5)
    d = decide(app(birth=birth, applied_at=two_am_almaty))
    assert (d.decision, d.citation, d.age) == ("voluntary", "Rules 406, p.4", 18)
    utc = decide(app(birth=birth, applied_at=two_am_almaty), Policy(zone="UTC"))   # configurable zone
    assert (utc.decision, utc.code, utc.age) == ("refused", "age_below_18", 17)


def test_unknown_zone_is_an_input_mistake():
    with pytest.raises(ApplicationError, match="time zone"):
        decide(app(applied_at=datetime(2026, 5, 17, 21, 0, tzinfo=timezone.utc)), Policy(zone="Mars/Olympus"))


@pytest.mark.parametrize("capacity", ["incapacitated", "limited"])
def test_public_service_custodian_present_with_written_application(capacity):
    assert outcome(app(capacity=capacity)) == ("needs_custodian", "Rules 406, p.5; Law Art.11 p.3")
    assert outcome(app(capacity=capacity, present=(Attendee("custodian", ""),))) == \
        ("needs_custodian", "Rules 406, p.5; Law Art.11 p.3")          # present, but no written application
    assert outcome(app(capacity=capacity, present=CUSTODIAN)) == ("voluntary", "Rules 406, p.4")
    assert outcome(app(capacity=capacity, present=(Attendee("trustee", "app-1"),))) == ("voluntary", "Rules 406, p.4")
    assert outcome(app(capacity=capacity, present=REPRESENTATIVE)) == \
        ("needs_custodian", "Rules 406, p.5; Law Art.11 p.3")          # the wrong person


def test_public_service_reapplicant_is_verified_unless_irreversibly_damaged():
    assert outcome(app(previously_registered=True)) == ("verify_instead", "Rules 406, p.8")
    d = decide(app(previously_registered=True, reason="irreversible_damage"))
    assert (d.decision, d.citation, d.code) == ("reenroll", "Rules 406, p.8-9", "irreversible_damage")
    assert outcome(app(previously_registered=True, reason="document_replacement")) == \
        ("verify_instead", "Rules 406, p.8")       # a replaced document is not the ground of p.8 (issue 19)


# ---------------------------------------------------------------- identity documents (Law Art.10 p.1, p.4; Art.11)

@pytest.mark.parametrize("age,days_after,basis,expected", [
    (12, 1, "passport_child_12_16", ("exempt", LAW + "Art.10-1 p.1 sub.1")),          # 11, twelve tomorrow
    (12, 0, "passport_child_12_16", ("voluntary", LAW + "Art.10 p.4")),
    (15, 0, "passport_child_12_16", ("voluntary", LAW + "Art.10 p.4")),
    (16, 0, "passport_child_12_16", ("refused", LAW + "Art.10 p.4")),                  # from 16: id_document
    (16, 1, "id_document", ("refused", LAW + "Art.10 p.4")),                           # 15: child's passport only
    (16, 0, "id_document", ("allowed", LAW + "Art.10 p.1")),
    (11, 0, "id_document", ("exempt", LAW + "Art.10-1 p.1 sub.1")),
])
def test_identity_document_ages(age, days_after, basis, expected):
    present = REPRESENTATIVE if basis == "passport_child_12_16" else ()
    assert outcome(app(basis, birth=born(age, days_after=days_after), present=present)) == expected


def test_child_passport_needs_the_legal_representative_present_with_written_application():
    assert outcome(app("passport_child_12_16", 13)) == ("needs_representative", LAW + "Art.11 p.2")
    assert outcome(app("passport_child_12_16", 13, present=(Attendee("legal_representative"),))) == \
        ("needs_representative", LAW + "Art.11 p.2")
    assert outcome(app("passport_child_12_16", 13, present=REPRESENTATIVE)) == ("voluntary", LAW + "Art.10 p.4")


def test_incapacitated_under_the_law_needs_the_guardian():
    assert outcome(app("id_document", capacity="incapacitated")) == ("needs_custodian", LAW + "Art.11 p.3")
    assert outcome(app("id_document", capacity="incapacitated", present=CUSTODIAN)) == \
        ("allowed", LAW + "Art.10 p.1")
    assert outcome(app("visa", capacity="incapacitated", **FOREIGN)) == ("needs_custodian", LAW + "Art.11 p.3")


def test_identity_documents_are_for_citizens():
    assert outcome(app("id_document", **FOREIGN)) == ("refused", LAW + "Art.10 p.1")
    assert decide(app("id_document", **FOREIGN)).code == "wrong_applicant_category"


# ---------------------------------------------------------------- mandatory categories (Art.10 p.2)

MANDATORY = {"seafarer": "sub.1", "residence_permit": "sub.2", "residence_card": "sub.3", "asylum_refugee": "sub.4",
             "deportation_readmission": "sub.5", "visa": "sub.6"}


@pytest.mark.parametrize("basis,sub", MANDATORY.items())
def test_each_mandatory_category_from_16(basis, sub):
    assert outcome(app(basis, 16, **FOREIGN)) == ("mandatory", LAW + f"Art.10 p.2 {sub}")
    assert outcome(app(basis, birth=born(16, days_after=1), **FOREIGN)) == ("refused", LAW + "Art.10 p.2")
    assert outcome(app(basis, 11, **FOREIGN)) == ("exempt", LAW + "Art.10-1 p.1 sub.1")


def test_seafarers_may_be_citizens_the_other_categories_may_not():
    assert outcome(app("seafarer", 40)) == ("mandatory", LAW + "Art.10 p.2 sub.1")
    assert outcome(app("residence_permit", 40)) == ("refused", LAW + "Art.10 p.2 sub.2")
    assert outcome(app("visa", 40, citizenship="stateless")) == ("mandatory", LAW + "Art.10 p.2 sub.6")


def test_e_visa_carve_out():
    d = decide(app("visa", 40, e_visa=True, **FOREIGN))
    assert (d.decision, d.citation, d.code) == ("exempt", LAW + "Art.10 p.2 sub.6", "e_visa")
    assert d.rule == "e_visa_carve_out"


# ---------------------------------------------------------------- exemptions (Art.10-1)

VISA_EXEMPTIONS = {"head_of_state": "sub.1", "official_diplomatic": "sub.2", "honorary_consul": "sub.3",
                   "diplomatic_passport": "sub.4", "diplomatic_courier": "sub.5", "official_invitation": "sub.6"}


@pytest.mark.parametrize("exemption,sub", VISA_EXEMPTIONS.items())
def test_each_visa_exemption(exemption, sub):
    assert outcome(app("visa", 45, exemption=exemption, **FOREIGN)) == ("exempt", LAW + f"Art.10-1 p.2 {sub}")


def test_visa_exemptions_do_not_apply_to_other_bases():
    with pytest.raises(ApplicationError, match="visa applications only"):
        decide(app("residence_permit", 45, exemption="diplomatic_passport", **FOREIGN))


def test_medical_commission_exemption():
    assert outcome(app("residence_permit", 45, exemption="medical_commission", **FOREIGN)) == \
        ("exempt", LAW + "Art.10-1 p.4 para.1")
    assert set(EXEMPTIONS) == set(VISA_EXEMPTIONS) | {"medical_commission"}


def test_re_applicants_are_verified_1_to_1_where_art_10_p3_says_so():
    for basis in ("id_document", "residence_permit", "residence_card", "asylum_refugee", "visa"):
        kw = {} if basis == "id_document" else FOREIGN
        assert outcome(app(basis, 40, previously_registered=True, **kw)) == ("verify_instead", LAW + "Art.10 p.3")
    for basis, sub in (("seafarer", "sub.1"), ("deportation_readmission", "sub.5")):    # not named in p.3
        assert outcome(app(basis, 40, previously_registered=True, **FOREIGN)) == \
            ("mandatory", LAW + f"Art.10 p.2 {sub}")


def test_re_collection_after_irreversible_damage_under_the_law():
    d = decide(app("visa", 40, previously_registered=True, reason="irreversible_damage", **FOREIGN))
    assert (d.decision, d.citation, d.rule) == ("reenroll", LAW + "Art.10 p.3", "reregistration_irreversible_damage")


# ---------------------------------------------------------------- fingers (Rules 406 p.6, p.7, p.10; Art.10-1 p.4)

def fingers(**by_status: range) -> dict[int, str]:
    statuses = {p: "captured" for p in ALL}
    for status, positions in by_status.items():
        statuses.update({p: status for p in positions})
    return statuses


def test_some_injured_fingers_are_skipped_under_p7_and_the_rule_is_recorded():
    d = decide(app(fingers=fingers(injured=range(1, 9))))
    assert (d.decision, d.citation) == ("voluntary", "Rules 406, p.4")
    assert ("injured_fingers_skipped", "Rules 406, p.7") in d.also


def test_all_ten_temporarily_injured_is_a_postponement_not_the_p10_refusal():
    for basis, kw in (("public_service_authentication", {}), ("visa", FOREIGN)):
        d = decide(app(basis, fingers=fingers(injured=ALL), **kw))
        assert (d.decision, d.code, d.citation) == ("refused", "postponed_injured", "Rules 406, p.7")
    mixed = decide(app(fingers=fingers(injured=range(1, 4), amputated=range(4, 11))))
    assert (mixed.code, mixed.citation) == ("postponed_injured", "Rules 406, p.7")


@pytest.mark.parametrize("status", ["amputated", "unable_to_print"])
def test_no_printable_finger_for_public_services_is_the_p10_refusal(status):
    d = decide(app(fingers=fingers(**{status: ALL})))
    assert (d.decision, d.code, d.citation) == ("refused", "no_printable_fingers", "Rules 406, p.10; Law Art.10-1 p.4")


def test_no_fingers_under_the_law():
    assert outcome(app("visa", fingers=fingers(amputated=ALL), **FOREIGN)) == ("exempt", LAW + "Art.10-1 p.4 para.3")
    assert outcome(app("id_document", fingers=fingers(unable_to_print=ALL))) == \
        ("exempt", LAW + "Art.10-1 p.4 para.1")
    for status in ("amputated", "unable_to_print"):   # deportation / readmission: palms, not captured here
        assert outcome(app("deportation_readmission", fingers=fingers(**{status: ALL}), **FOREIGN)) == \
            ("refused", LAW + "Art.10-1 p.4 para.2")


def test_every_finger_position_needs_a_status():
    statuses = fingers()
    del statuses[7]
    assert outcome(app(fingers=statuses)) == ("refused", "Rules 406, p.6")


# ---------------------------------------------------------------- every basis, and the packet the centre re-reads

def test_every_basis_has_an_allowing_decision_carrying_its_rule():
    for legal in BASES.values():
        age = 13 if legal.max_age else 40
        kw = {"citizenship": "citizen" if legal.applicants != "foreign" else "foreigner",
              "present": REPRESENTATIVE if legal.max_age else ()}
        d = decide(app(legal.id, age, **kw))
        assert d.allows and d.rule == legal.rule_id and d.citation == legal.collected_under


def test_a_refusal_carries_the_code_and_the_citation():
    refusal = decide(app(age=17)).refusal()
    assert (refusal.code, refusal.rule) == ("age_below_18", "Rules 406, p.4")
    assert "Rules 406, p.4" in str(refusal)


def test_mistakes_in_the_application_are_named():
    with pytest.raises(ApplicationError, match="citizenship"):
        decide(app(citizenship="martian"))
    with pytest.raises(ApplicationError, match="not previously registered"):
        decide(app(reason="irreversible_damage"))
    with pytest.raises(ApplicationError, match="after the date of application"):
        decide(app(birth=date(2030, 1, 1)))
    with pytest.raises(ValueError, match="unknown legal basis"):
        decide(app("tourism"))


def test_the_centre_reads_the_same_application_from_the_packet():
    from papilla.shared.messages import EnrollmentPacket, Finger, Present

    now = datetime(2026, 11, 23, 5, 0, tzinfo=timezone.utc)
    packet = EnrollmentPacket(
        packet_id="st-1-p1", station_id="st-1", operator_id="op-1", captured_at=now, purpose="passport_child_12_16",
        **identity("0" * 12, "Child", operator_id="op-1", signed_on=now, purpose="passport_child_12_16",
                   present=(Present(role="legal_representative", written_application="app-5"),)),
        fingers=[Finger(position=p, status="injured") for p in range(2, 11)]
        + [Finger(position=1, status="captured", image=b"x", format="png", dpi=500)])
    d = decide(from_packet(packet, born(13), now, previously_registered=False))
    assert (d.decision, d.citation) == ("voluntary", LAW + "Art.10 p.4")
    without = packet.model_copy(update={"applicant": packet.applicant.model_copy(update={"present": ()})})
    assert outcome(from_packet(without, born(13), now, previously_registered=False)) == ("needs_representative", LAW + "Art.11 p.2")
