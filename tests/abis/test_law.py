"""The law applies to a MOSIP caller as to any party: a blocked person is never a candidate and is not deleted
(the refusal cites the blocking rule), every operation is in the audit trail under the partner's ids, and the
trail holds no biometric data; a hostile CBEFF document (DTD / entity expansion, oversized) is refused."""
from __future__ import annotations

import json
import uuid

import pytest

from papilla.services.abis import cbeff, domain
from papilla.services.abis.service import handle
from papilla.services.lifecycle import commands
from papilla.shared import audit
from tests.helpers.abis import cbeff_server, context, open_partner_centre, partner_env, person_cbeff, request


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    partner_env(monkeypatch, tmp_path)
    centre = open_partner_centre()
    yield context(centre)
    centre.close()


def _call(ctx, doc) -> dict:
    return handle(ctx, json.dumps(doc).encode())


def test_a_blocked_person_is_not_a_candidate_and_not_deleted(ctx):
    with cbeff_server() as server:
        for ref, (person, impression) in {"ref-a": (61, 0), "ref-b": (61, 1), "ref-c": (62, 0)}.items():
            assert _call(ctx, request("insert", referenceId=ref, referenceURL=server.add(
                person_cbeff(person, impression))))["returnValue"] == "1"
        found = _call(ctx, request("identify", referenceId="ref-a"))["candidateList"]["candidates"]
        assert [c["referenceId"] for c in found] == ["ref-b"]
        blocked = commands.block(ctx.centre, {"_id": f"blk-{uuid.uuid4()}", "principal_id": "pr-authority",
                                              "iin_hash": domain.subject_hash(ctx, "ref-b")}, blocked=True)
        assert blocked.status == "BLOCKED"
        assert _call(ctx, request("identify", referenceId="ref-a"))["candidateList"] == {"count": "0",
                                                                                        "candidates": []}
        refused = _call(ctx, request("delete", referenceId="ref-b"))
        assert (refused["returnValue"], refused["failureReason"]) == ("2", "4")
        assert _call(ctx, request("referenceCount"))["count"] == "3"      # still held, blocked
    actions = [e["action"] for e in ctx.centre.store.find("audit", {})]
    assert actions.count("abis_insert") == 3 and actions.count("abis_identify") == 2
    assert "destruction_deferred" in actions and "abis_delete" not in actions
    deferred = ctx.centre.store.find_one("audit", {"action": "destruction_deferred"})
    assert "Art.1" in deferred["details"]["rule"] or "Art.9" in deferred["details"]["rule"]
    assert audit.verify_chain(ctx.centre) == []


def test_delete_destroys_through_the_lifecycle(ctx):
    with cbeff_server() as server:
        assert _call(ctx, request("insert", referenceId="ref-d", referenceURL=server.add(person_cbeff(63))))[
            "returnValue"] == "1"
    subject_id = ctx.centre.store.get("enrollments", domain.enrollment_id(ctx.partner, "ref-d"))["subject_id"]
    assert _call(ctx, request("delete", referenceId="ref-d"))["returnValue"] == "1"
    assert ctx.centre.store.get("subjects", subject_id) is None
    assert ctx.centre.store.count("biometrics", {"subject_id": subject_id}) == 0
    destroyed = ctx.centre.store.find_one("audit", {"action": "destroyed"})
    assert destroyed["actor"] == "mosip-supervisor" and "Rules 406" in destroyed["details"]["rule"]
    again = _call(ctx, request("insert", referenceId="ref-d", referenceURL="http://127.0.0.1:9/x"))
    assert again["failureReason"] == "7"      # the reference is free again, and the URL is fetched anew


def test_hostile_documents_are_refused(ctx):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<BIR xmlns="http://standards.iso.org/iso-iec/19785/-3/ed-2/">&lol2;</BIR>')
    with cbeff_server() as server:
        response = _call(ctx, request("insert", referenceId="ref-e", referenceURL=server.add(bomb)))
        assert response["failureReason"] == "16"
        ctx.fetch_params = cbeff.FetchParams(max_bytes=10_000)
        big = _call(ctx, request("insert", referenceId="ref-e", referenceURL=server.add(person_cbeff(64))))
        assert big["failureReason"] == "7"
