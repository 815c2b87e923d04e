"""The subject's access request received at a branch and sent to the centre as the operator's signed lifecycle
command (issue 21; Rules 395 p.15-16): logged as received on the day it left the branch, answered with its due
date; refused without the written application or to a role that may not receive it, citing the rule."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from papilla.services.admission import intake
from papilla.services.capture.station import subject_application
from papilla.services.lifecycle import access
from papilla.services.lifecycle.access_receipts import due_on
from papilla.shared import clock
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.principals import sign

from tests.helpers.legal_records import BRANCH, desk, record

PERSON = make_test_iin(date(1983, 2, 14), True, 41)


@pytest.fixture
def branch(centre):
    record(centre, "enr-ar-1", PERSON, "public_service_authentication")
    return desk(centre)


def test_an_access_request_from_the_branch_is_logged_and_answered_with_its_due_date(branch):
    application = subject_application("receive_access_request", request_id="ar-1", reply_to=BRANCH, iin=PERSON,
                                      applicant="subject", reason="what is held about me",
                                      operator=branch.people["op"])
    done = branch.send(application)
    logged = branch.centre.store.get(access.ACCESS, "ar-1")
    assert done.status == "RECEIVED" and done.rule == logged["rule"] == "Rules 395, p.16 para.1"
    received = clock.local_date(datetime.fromisoformat(logged["received_at"]))   # the day it left the branch, in Almaty
    assert received == clock.today() and logged["due_on"] == due_on(received).isoformat() > received.isoformat()
    assert logged["due_on"] in done.detail
    assert logged["subject_id"] == branch.centre.store.find_one("subjects", {})["_id"]
    assert logged["received_by"] == branch.people["op"].party_id and logged["state"] == "received"
    assert PERSON not in repr(done) and PERSON not in repr(logged)
    entry = branch.centre.store.find_one("audit", {"action": "access_request_received"})
    assert entry["details"]["request_id"] == "ar-1"
    # the answer then follows at the branch as for any access request
    answer = access.AccessDecision(request_id="ar-1", decision="answer", principal_id=branch.people["op"].party_id)
    report = access.decide(branch.centre, sign(answer, "principal_signature", branch.people["op"].signing))
    assert report.data_held and [r.record_id for r in report.records] == ["enr-ar-1"]


def test_without_the_written_application_or_by_a_role_that_may_not_receive_it_it_is_refused(branch):
    with pytest.raises(Refusal) as err:
        intake.accept_command(branch.centre, branch.command("receive_access_request", "ar-none", iin=PERSON, by="op"))
    assert err.value.code == "no_application" and err.value.rule.startswith("Rules 395")
    with pytest.raises(Refusal) as err:
        intake.accept_command(branch.centre, branch.command("receive_access_request", "ar-body", iin=PERSON, by="body",
                                                            on_application_of="subject"))
    assert err.value.code == "role_not_permitted"
    assert branch.centre.store.get(access.ACCESS, "ar-none") is None
