"""The MOSIP ABIS specification's own request examples and the ABIS testing kit's request templates, fed to
`papilla abis call`; every response validated against the response schemas (the kit's for the kit profile,
the ones written from the specification's text for the spec profile; tests/fixtures/mosip/README.md)."""
from __future__ import annotations

import json

import jsonschema
import pytest

from tests.helpers.abis import FIXTURES, fill, person_cbeff

SPEC = FIXTURES / "spec"
KIT = FIXTURES / "kit"
SCHEMA_NAMES = {"insert": "insert", "identify": "identify", "delete": "delete", "ping": "ping",
                "pendingJobs": "pending_jobs", "referenceCount": "reference_count"}
#: the references the specification's identify example names: its probe, and two of its gallery entries
PROBE, SAME_PERSON, OTHER = ("987654321-89AB-CDEF-0123-456789ABCDEF", "7acce7b7d-b58a-4466-a006-c79297281456",
                             "2abe7b7d-b58a-4466-a006-c79297281123")
NOT_IN_GALLERY = "0badc0de-0000-4000-8000-000000000000"


def _schema(root, operation: str) -> dict:
    doc = json.loads((root / "schemas" / f"{SCHEMA_NAMES[operation]}_response.json").read_text())
    if root == KIT and operation == "ping":
        # the kit's ping schema is a copy of its pendingJobs one: its id pattern says mosip.abis.pendingJobs.
        # The only change made: the id of the operation it answers. Every other constraint is the kit's.
        doc["properties"]["id"]["pattern"] = "^mosip.abis.ping$"
    return doc


def _example(version: str, name: str) -> dict:
    return json.loads((SPEC / "requests" / f"{name}_{version}.json").read_text())


def _insert(call, server, reference, document, profile="spec"):
    doc = _example("v09", "insert") | {"requestId": f"ins-{reference}", "referenceId": reference,
                                       "referenceURL": server.add(document)}
    code, response = call(doc, profile)
    assert code == 0 and str(response["returnValue"]) == "1", response
    return response


@pytest.mark.parametrize("version", ["v09", "v11"])
def test_specification_examples(call, server, version):
    """Insert three people (the identify example's probe, a second impression of the same person under one of
    its gallery ids, another person), then every example of the specification as written, except that
    referenceURL points at the CBEFF server on 127.0.0.1 instead of mosip.io."""
    schema = lambda op: _schema(SPEC, op)   # noqa: E731
    insert = _example(version, "insert") | {"referenceURL": server.add(person_cbeff(11))}
    code, response = call(insert)
    assert code == 0, response
    jsonschema.validate(response, schema("insert"))
    assert response["requestId"] == insert["requestId"] and response["returnValue"] == "1"
    for reference, person, impression in ((PROBE, 12, 0), (SAME_PERSON, 12, 1), (OTHER, 13, 0),
                                          (NOT_IN_GALLERY, 12, 2)):
        _insert(call, server, reference, person_cbeff(person, impression))

    identify = _example(version, "identify")
    if version == "v11":       # the 1.1 example carries a URL too: the referenceId is preferred (spec)
        identify["referenceUrl"] = server.add(b"never fetched")
    code, response = call(identify)
    jsonschema.validate(response, schema("identify"))
    found = [c["referenceId"] for c in response["candidateList"]["candidates"]]
    # the same person is found; the one outside the example's gallery is not, though it is the same person too
    assert found == [SAME_PERSON], response
    assert response["candidateList"]["count"] == "1"

    for name, expect in (("ping", None), ("pending_jobs", "0"), ("reference_count", "5")):
        code, response = call(_example(version, name))
        jsonschema.validate(response, schema(response["id"].split(".")[-1]))
        assert code == 0 and (expect is None or response.get("jobscount", response.get("count")) == expect)

    code, response = call(_example(version, "delete"))
    jsonschema.validate(response, schema("delete"))
    if version == "v09":       # deletes the duplicate the identify found
        assert response["returnValue"] == "1"
        assert call(_example(version, "reference_count"))[1]["count"] == "4"
    else:                      # the 1.1 example's referenceId is "": missing reference id
        assert response["returnValue"] == "2" and response["failureReason"] == "5"


def test_testing_kit_templates(call, server):
    """The kit's templates (src/config/*.json) filled in as its orchestrator fills them, answered in the kit
    profile and validated against the kit's response schemas (src/config/schemas)."""
    templates = {p.stem: p.read_text() for p in (KIT / "requests").glob("*.json")}
    now = "1765094400"
    responses = []
    for n, (reference, person, impression) in enumerate((("kit-ref-1", 21, 0), ("kit-ref-2", 21, 1),
                                                         ("kit-ref-3", 22, 0))):
        responses.append(call(fill(templates["insert"], requestId=f"kit-ins-{n}", requestTime=now,
                                   referenceId=reference, referenceUrl=server.add(person_cbeff(person, impression))),
                              "kit"))
    identify = fill(templates["identify"], requestId="kit-idn-1", timestamp=now, referenceId="kit-ref-1",
                    referenceUrl="", maxResults="10", targetFpir="30")
    responses.append(call(identify, "kit"))
    for name in ("ping", "pending_jobs", "reference_count"):
        responses.append(call(fill(templates[name], requestId=f"kit-{name}", requestTime=now, timestamp=now), "kit"))
    responses.append(call(fill(templates["delete"], requestId="kit-del-1", requestTime=now, referenceId="kit-ref-2"),
                          "kit"))
    responses.append(call(fill(templates["reference_count"], requestId="kit-count-2", timestamp=now), "kit"))
    for code, response in responses:
        jsonschema.validate(response, _schema(KIT, response["id"].split(".")[-1]))
        assert code == 0 and response["returnValue"] == 1, response
    identified = responses[3][1]["candidateList"]
    assert [c["referenceId"] for c in identified["candidates"]] == ["kit-ref-2"]
    assert int(identified["candidates"][0]["scaledScore"]) >= 30     # above the targetFPIR asked for
    assert responses[6][1]["count"] == "3" and responses[-1][1]["count"] == "2"


def test_unfilled_kit_template_is_refused_not_crashed(call):
    template = (KIT / "requests" / "insert.json").read_text()
    code, response = call(template, "kit")
    jsonschema.validate(response, _schema(KIT, "insert"))
    assert response["returnValue"] == 2        # "${requestTime}" is no time: 15, sent as 4 in the kit's range
    assert response["failureReason"] == 4
