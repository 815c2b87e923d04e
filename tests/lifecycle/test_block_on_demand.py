"""Blocking on the subject's demand (issue 19; Rules 395 p.25), received at a branch, besides blocking by the
authorised body (Law Art.9 p.2), which alone lifts it after verification."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.services.admission import intake
from papilla.services.capture.station import subject_application
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal

from tests.helpers.legal_records import BRANCH, desk, record

PERSON = make_test_iin(date(1979, 9, 19), False, 71)


@pytest.fixture
def branch(centre):
    record(centre, "enr-bd-1", PERSON, "public_service_authentication")
    return desk(centre)


def test_the_subjects_demand_received_at_a_branch_blocks_citing_rules_395_p25(branch):
    demand = subject_application("block_on_demand", request_id="bd-1", reply_to=BRANCH, iin=PERSON,
                                 applicant="subject", reason="data used by a third party", operator=branch.people["op"])
    done = branch.send(demand)
    assert (done.status, done.rule) == ("BLOCKED", "Rules 395, p.25")
    store = branch.centre.store
    assert store.find_one("subjects", {})["state"] == "BLOCKED" and not store.get("gallery", "enr-bd-1")["active"]
    entry = store.find_one("audit", {"action": "blocked"})
    assert entry["details"]["trigger"] == "block_on_demand" and entry["details"]["on_application_of"] == "subject"
    assert entry["actor"] == branch.people["op"].party_id
    # the branch cannot lift it: the authorised body does, after verification (Law Art.9 p.2)
    with pytest.raises(Refusal) as err:
        intake.accept_command(branch.centre, branch.command("unblock", "ub-op", iin=PERSON, by="op"))
    assert err.value.code == "role_not_permitted" and err.value.rule.endswith("Art.9 p.2")
    assert branch.run("unblock", "ub-body", iin=PERSON, by="body").status == "UNBLOCKED"


def test_a_demand_without_the_written_application_is_refused_with_the_rule(branch):
    with pytest.raises(Refusal) as err:
        intake.accept_command(branch.centre, branch.command("block_on_demand", "bd-none", iin=PERSON, by="op"))
    assert (err.value.code, err.value.rule) == ("no_application", "Rules 395, p.25")


def test_a_depersonalized_subject_may_demand_blocking_too(branch):
    assert branch.run("depersonalize", "dp-bd", iin=PERSON, by="body").status == "DEPERSONALIZED"
    done = branch.run("block_on_demand", "bd-dp", iin=PERSON, by="sup", on_application_of="subject")
    assert (done.status, done.rule) == ("BLOCKED", "Rules 395, p.25")
    assert branch.run("unblock", "ub-dp", iin=PERSON, by="body").status == "UNBLOCKED"
    assert branch.centre.store.find_one("subjects", {})["state"] == "DEPERSONALIZED"   # back where it was
