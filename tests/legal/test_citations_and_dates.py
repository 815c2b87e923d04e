"""Citations complete and one date rule (issue 19): a decision that relied on a custodian's or a legal
representative's application cites that rule too (Rules 406 p.5; Law Art.11 p.2, p.3); ages and terms use one
rule, 29 February included (shared/legal/dates.py, docs/legal.md "Dates")."""
from __future__ import annotations

import json
from datetime import date

import pytest

from papilla.cli import main
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.legal.bases import basis, event_destroy_on
from papilla.shared.legal.dates import add_years, age_on
from papilla.shared.legal.decide import Application, Attendee, decide

from tests.helpers.legal_records import desk, record

LAW = "Law on dactyloscopic and genomic registration, "


def also(decision) -> list[str]:
    return [citation for _, citation in decision.also]


def test_a_custodians_application_is_cited_beside_the_rule_that_allows(capsys):
    d = decide(Application(basis="public_service_authentication", birth=date(1980, 1, 1), applied_at=date(2026, 5, 5),
                           capacity="incapacitated", present=(Attendee("custodian", "app-1/2026"),)))
    assert (d.decision, d.citation) == ("voluntary", "Rules 406, p.4")
    assert "Rules 406, p.5; Law Art.11 p.3" in also(d)
    d = decide(Application(basis="id_document", birth=date(1980, 1, 1), applied_at=date(2026, 5, 5),
                           capacity="incapacitated", present=(Attendee("custodian", "app-2/2026"),)))
    assert d.citation == LAW + "Art.10 p.1" and LAW + "Art.11 p.3" in also(d)


def test_a_legal_representatives_application_for_a_child_is_cited_from_the_command_line(capsys):
    code = main(["legal", "decide", "--basis", "passport_child_12_16", "--birth", "2013-01-10", "--applied",
                 "2026-11-23", "--present", "legal_representative=app-4/2026", "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["citation"] == LAW + "Art.10 p.4"
    assert {"rule": "child_legal_representative", "citation": LAW + "Art.11 p.2"} in answer["also"]


def test_destruction_on_a_custodians_application_cites_rules_406_p5_too(centre):
    iin = make_test_iin(date(1970, 10, 10), True, 81)
    record(centre, "enr-cust-1", iin, "public_service_authentication")
    done = desk(centre).run("destroy", "req-cust-1", iin=iin, on_application_of="custodian")
    assert (done.status, done.rule) == ("DESTROYED", "Rules 406, p.11; Rules 406, p.5; Law Art.11 p.3")
    assert centre.store.find_one("audit", {"action": "destroyed"})["details"]["rule"] == done.rule


@pytest.mark.parametrize("applied, decision", [(date(2026, 2, 27), "refused"), (date(2026, 2, 28), "voluntary")])
def test_a_person_born_on_29_february_is_18_on_28_february_of_a_common_year(applied, decision):
    d = decide(Application(basis="public_service_authentication", birth=date(2008, 2, 29), applied_at=applied))
    assert d.decision == decision and (d.age == 18) == (decision == "voluntary")


def test_ages_and_terms_follow_the_same_rule_on_29_february():
    birth = date(1928, 2, 29)
    for years in range(1, 101):
        assert age_on(birth, add_years(birth, years)) == years      # an age is reached the day a term would end
        assert age_on(birth, add_years(birth, years).replace(day=add_years(birth, years).day - 1)) == years - 1
    term = basis("id_document").term        # Law Art.15 p.1: until the date they would have turned 100
    assert event_destroy_on(term, birth, date(2020, 1, 1)) == date(2028, 2, 29)
    assert event_destroy_on(term, date(2000, 2, 29), date(2020, 1, 1)) == date(2100, 2, 28)   # 2100: common
    assert add_years(date(2016, 2, 29), 10) == date(2026, 2, 28)   # ten years from registration (Art.15 p.1)
