"""Who may do what (shared/legal/roles.py): for every lifecycle command, each role that may succeeds and each
role that may not is refused with the rule's citation. Domain-level: the intake of a sealed, signed request."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.client import PapillaClient
from papilla.identity import ensure_sender
from papilla.services.admission import intake
from papilla.shared.crypto import sealing
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal.roles import ON_APPLICATION, PERMISSIONS, ROLES
from papilla.shared.legal.rules import rule
from papilla.shared.messages import LifecycleAction, LifecycleCommand, TransferOrder, encode
from papilla.shared.principals import sign

SERVICE = "svc-lifecycle-desk"
IIN = make_test_iin(date(1975, 5, 5), True, 9)
ACTIONS = [a.value for a in LifecycleAction]


@pytest.fixture
def desk(centre):
    settings = centre.settings
    centre.service = ensure_sender(centre, settings, SERVICE, "service")
    centre.principals = {role: ensure_sender(centre, settings, f"pr-{role.replace('_', '-')}", "principal", role=role)
                         for role in ROLES}
    return centre


def command(desk, action: str, principal, *, rid: str, on_application_of="subject", signed_by=None,
            sealed_at=None) -> bytes:
    message = LifecycleCommand(request_id=rid, reply_to=SERVICE, action=LifecycleAction(action),
                               iin=None if action == "adjudicate" else IIN,
                               enrollment_id="enr-x" if action == "adjudicate" else None,
                               decision="distinct_person" if action == "adjudicate" else None,
                               reason="per application", principal_id=principal.party_id,
                               on_application_of=on_application_of if action in ON_APPLICATION
                               else None,
                               **(transfer_fields(desk) if action == "transfer" else {}))
    message = sign(message, "principal_signature", (signed_by or principal).signing)
    if action == "transfer":      # the second principal approves the same bytes (services/lifecycle/transfers.py)
        message = sign(message, "approver_signature", desk.principals["head_of_unit"].signing)
    return sealing.seal(encode(message), sender_id=SERVICE, packet_id=rid, signing_key=desk.service.signing,
                        centre_public=desk.keys.box.public_key(), created_at=sealed_at)


def transfer_fields(desk) -> dict:
    return {"transfer": TransferOrder(recipient_id="svc-court-01", recipient_kind="court",
                                      legal_basis="court ruling 2-101/2026"),
            "approver_id": desk.principals["head_of_unit"].party_id}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_only_what_the_table_allows(desk, action, role):
    rid = f"req-{action.replace('_', '-')}-{role.replace('_', '-')}"
    sealed = command(desk, action, desk.principals[role], rid=rid)
    permission = PERMISSIONS[action]
    if role in permission.roles:
        assert intake.accept_command(desk, sealed) == rid
        assert desk.store.get("jobs", rid)["principal_id"] == desk.principals[role].party_id
        return
    with pytest.raises(Refusal) as refused:
        intake.accept_command(desk, sealed)
    assert refused.value.code == "role_not_permitted"
    assert refused.value.rule == (rule(permission.rule_id).citation if permission.rule_id else None)
    assert (refused.value.request_id, refused.value.reply_to, refused.value.kind) == (rid, SERVICE, "lifecycle")
    assert desk.store.get("jobs", rid) is None


def test_blocking_cites_the_law_that_names_the_authorised_body(desk):
    with pytest.raises(Refusal) as refused:
        intake.accept_command(desk, command(desk, "unblock", desk.principals["operator"], rid="req-unblock-op"))
    assert "Art.9 p.2" in refused.value.rule


def test_destruction_needs_the_persons_application(desk):
    with pytest.raises(Refusal) as refused:
        intake.accept_command(desk, command(desk, "destroy", desk.principals["operator"], rid="req-destroy-none",
                                            on_application_of=None))
    assert refused.value.code == "no_application" and "p.11" in refused.value.rule


def test_a_signature_by_someone_else_or_an_unknown_principal_is_refused(desk):
    forged = command(desk, "block", desk.principals["authorised_body"], rid="req-forged",
                     signed_by=desk.principals["operator"])
    with pytest.raises(Refusal) as refused:
        intake.accept_command(desk, forged)
    assert refused.value.code == "bad_principal_signature" and "p.13" in refused.value.rule
    stranger = ensure_sender(desk, desk.settings, "pr-stranger", "principal", role="authorised_body")
    desk.senders.revoke("pr-stranger", "left the body")
    with pytest.raises(Refusal) as refused:
        intake.accept_command(desk, command(desk, "block", stranger, rid="req-revoked-principal"))
    assert refused.value.code == "principal_revoked" and refused.value.rule == "Rules 406, p.13; Law Art.8"


def test_the_operator_on_a_packet_must_be_a_registered_operator(desk, fvc_dir):
    from tests.helpers.centre import sealed_packet

    auditor = desk.principals["auditor"]
    desk.operator = auditor       # the packet names and is signed by an auditor, not an operator
    with pytest.raises(Refusal) as refused:
        intake.accept_enrollment(desk, sealed_packet(desk, fvc_dir, "st-unit-01-aud", IIN, {1: "101_1"}))
    assert refused.value.code == "role_not_permitted" and "p.3" in refused.value.rule


def test_the_client_signs_lifecycle_commands_with_the_principal_key(desk):
    sent = []
    client = PapillaClient(broker=None, service_id=SERVICE, signing_key=desk.service.signing,
                           centre_public=desk.keys.box.public_key(), waiter=None)
    client._submit = lambda message, rid: sent.append(message) or rid
    client.lifecycle("block", principal=desk.principals["authorised_body"], reason="violation", iin=IIN)
    assert sent[0].principal_id == desk.principals["authorised_body"].party_id and sent[0].principal_signature


def test_a_destruction_application_is_received_when_the_branch_sealed_it(desk):
    """Rules 406 p.11 counts from the day the application is received: a command that waited (a lifecycle
    outage, a queue) keeps its signed sealing time as `received_at`, so it shows as overdue at once; a sealing
    time in the future is taken as now."""
    from datetime import datetime, timedelta, timezone

    from papilla.services.lifecycle.commands import overdue_applications

    now = datetime.now(timezone.utc)
    operator = desk.principals["operator"]
    intake.accept_command(desk, command(desk, "destroy", operator, rid="req-waited", sealed_at=now - timedelta(days=2)))
    intake.accept_command(desk, command(desk, "destroy", operator, rid="req-ahead", sealed_at=now + timedelta(days=3)))
    waited, ahead = desk.store.get("jobs", "req-waited"), desk.store.get("jobs", "req-ahead")
    assert datetime.fromisoformat(waited["received_at"]) == (now - timedelta(days=2)).replace(
        microsecond=(now.microsecond // 1000) * 1000)            # the seal keeps milliseconds
    assert now <= datetime.fromisoformat(ahead["received_at"]) <= datetime.now(timezone.utc)
    assert "expire_at" not in waited                             # a command's job never expires unanswered
    assert overdue_applications(desk) == 1
