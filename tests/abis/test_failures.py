"""Each MOSIP failure reason Papilla sends, triggered the way a client triggers it (docs/abis.md's table)."""
from __future__ import annotations

import json

import jsonschema
import numpy as np

from papilla.identity import ensure_sender
from papilla.services.abis import cbeff
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.results import MemoryResultSink
from tests.helpers.abis import FIXTURES, finger_record, person_cbeff, request

SPEC_SCHEMAS = FIXTURES / "spec" / "schemas"


def _spec_valid(response: dict, name: str) -> None:
    jsonschema.validate(response, json.loads((SPEC_SCHEMAS / f"{name}_response.json").read_text()))


def _failed(call, doc, reason: int, schema: str = "insert"):
    code, response = call(doc)
    assert code == 4, response
    assert response["returnValue"] == "2" and response["failureReason"] == str(reason), response
    if schema:
        _spec_valid(response, schema)
    return response


def test_4_not_json(call):
    response = _failed(call, "{not json", 4, None)
    assert response["id"] == "mosip.abis" and response["requestId"] == ""


def test_14_unknown_operation(call):
    code, response = call(request("ping") | {"id": "mosip.abis.enrol"})
    assert code == 4 and response["failureReason"] == "14" and response["id"] == "mosip.abis.enrol"


def test_6_missing_request_id(call):
    doc = request("ping")
    del doc["requestId"]
    assert _failed(call, doc, 6, "ping")["requestId"] == ""


def test_13_unsupported_version(call):
    _failed(call, request("ping", version="2.0"), 13, "ping")


def test_9_missing_and_15_bad_request_time(call):
    doc = request("ping")
    del doc["requesttime"]
    _failed(call, doc, 9, "ping")
    _failed(call, request("ping", requesttime="yesterday noon"), 15, "ping")


def test_5_missing_reference_id_and_8_missing_url(call, server):
    _failed(call, request("insert", referenceURL=server.add(b"x")), 5)
    _failed(call, request("delete", referenceId=""), 5, "delete")
    _failed(call, request("insert", referenceId="ref-0001"), 8)


def test_7_unreachable_and_17_expired(call, server):
    missing = server.add(404)
    _failed(call, request("insert", referenceId="ref-0001", referenceURL=missing), 7)
    _failed(call, request("insert", referenceId="ref-0001", referenceURL="file:///etc/passwd"), 7)
    closed_port = "http://127.0.0.1:9/datashare/x"      # discard port: nothing listens
    _failed(call, request("insert", referenceId="ref-0001", referenceURL=closed_port), 7)
    # a datashare URL past its validity: the server answers 410 Gone
    _failed(call, request("insert", referenceId="ref-0001", referenceURL=server.add(410)), 17)


def test_16_invalid_cbeff(call, server):
    _failed(call, request("insert", referenceId="ref-0001", referenceURL=server.add(b"not xml at all")), 16)
    # the ABIS testing kit's own sample layout (sample_data/r1.xml): no CBEFF namespace, a space in the date:
    # it does not validate against MOSIP's XSD
    kit_sample = (FIXTURES / "cbeff" / "kit_r1_layout.xml").read_bytes()
    _failed(call, request("insert", referenceId="ref-0001", referenceURL=server.add(kit_sample)), 16)
    broken = person_cbeff(1).replace(b"<BDB>", b"<BDB>!!")
    _failed(call, request("insert", referenceId="ref-0001", referenceURL=server.add(broken)), 16)


def test_11_cbeff_without_fingers(call, server):
    face_only = cbeff.document_of({}).replace(b"</BIR>", FACE_BIR + b"</BIR>")
    _failed(call, request("insert", referenceId="ref-0001", referenceURL=server.add(face_only)), 11)


FACE_BIR = (b'<BIR><BIRInfo><Integrity>false</Integrity></BIRInfo><BDBInfo><Format><Organization>Mosip'
            b'</Organization><Type>8</Type></Format><Type>Face</Type><Level>Raw</Level><Purpose>Enroll</Purpose>'
            b'</BDBInfo><BDB>RkFDAA==</BDB></BIR>')


def test_18_unusable_finger(call, server):
    blank = np.full((400, 320), 200, np.uint8)
    document = cbeff.document_of({2: finger_record(blank, 2)})
    _failed(call, request("insert", referenceId="ref-0001", referenceURL=server.add(document)), 18)


def test_10_reference_exists_and_12_not_found(call, server):
    url = server.add(person_cbeff(3))
    code, response = call(request("insert", referenceId="ref-0003", referenceURL=url))
    assert code == 0 and response["returnValue"] == "1", response
    _failed(call, request("insert", referenceId="ref-0003", referenceURL=url), 10)
    _failed(call, request("identify", referenceId="ref-9999"), 12, "identify")
    _failed(call, request("delete", referenceId="ref-9999"), 12, "delete")


def test_4_principal_whose_role_may_not_enroll(abis_home, call, server, monkeypatch):
    settings = Settings.from_env()
    centre = Centre.open(settings, publisher=MemoryResultSink())
    ensure_sender(centre, settings, "mosip-auditor", "principal", role="auditor")
    centre.close()
    monkeypatch.setenv("PAPILLA_ABIS_PRINCIPAL", "mosip-auditor")
    _failed(call, request("insert", referenceId="ref-0004", referenceURL=server.add(person_cbeff(4))), 4)
    centre = Centre.open(settings, publisher=MemoryResultSink())
    assert centre.store.count("enrollments", {}) == 0        # refused before anything was stored
    centre.close()


def test_4_revoked_service(abis_home, call):
    centre = Centre.open(Settings.from_env(), publisher=MemoryResultSink())
    centre.senders.revoke("mosip-regproc", "contract ended")
    centre.close()
    _failed(call, request("referenceCount"), 4, "reference_count")


def test_3_unexpected_error(call, monkeypatch):
    from papilla.services.abis import domain

    def broken(ctx, request):
        raise RuntimeError("store exploded")
    monkeypatch.setitem(domain.OPERATIONS, "referenceCount", broken)
    _failed(call, request("referenceCount"), 3, "reference_count")


def test_kit_profile_maps_new_reasons_to_the_kits_range(call):
    code, response = call(request("ping", version="2.0"), profile="kit")
    assert response["returnValue"] == 2 and response["failureReason"] == 4   # 13 is 4 in the kit's 0-9 range
