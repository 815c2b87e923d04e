"""Tolerant where clients are sloppy, strict where the specification is; flags that change the search."""
from __future__ import annotations

import json

import pytest

from papilla.services.abis.failures import AbisFailure, Reason
from papilla.services.abis.requests import parse
from papilla.services.abis.service import handle
from tests.helpers.abis import cbeff_server, context, open_partner_centre, partner_env, person_cbeff, request


@pytest.mark.parametrize("variant", [
    {"ver": "1.1"}, {"version": 1.1}, {"version": "1.0"},
    {"requestTime": "2026-12-07T08:00:00Z"}, {"timestamp": "1765094400"}, {"requesttime": "2026-12-07T08:00:00+05:00"},
])
def test_sloppy_but_meaningful_variants_are_accepted(variant):
    doc = {"id": "mosip.abis.identify", "requestId": "r-1", "referenceId": "ref-1",
           "flags": {"targetFpir": "30", "MAXRESULTS": 7}}
    doc.update({"version": "1.1", "requesttime": "2026-12-07T08:00:00Z"} if "ver" not in variant else
               {"requesttime": "2026-12-07T08:00:00Z"})
    for key in ("requestTime", "timestamp", "requesttime"):
        if key in variant:
            doc.pop("requesttime", None)
    doc.update(variant)
    parsed = parse(doc)
    assert parsed.flags.max_results == 7 and parsed.flags.target_fpir == 30
    assert parsed.flags.fpir == pytest.approx(1e-3)
    assert parsed.request_time.tzinfo is not None


@pytest.mark.parametrize("change, reason", [
    ({"id": "mosip.abis.Insert"}, Reason.INVALID_ID),                  # the operation names are exact
    ({"version": "1.2"}, Reason.INVALID_VERSION),
    ({"flags": {"maxResults": "ten"}}, Reason.INVALID_REQUEST_STRUCTURE),
    ({"flags": {"targetFPIR": 0}}, Reason.INVALID_REQUEST_STRUCTURE),
    ({"gallery": {"referenceIds": ["ref-2"]}}, Reason.INVALID_REQUEST_STRUCTURE),
    ({"referenceId": "has spaces in it"}, Reason.INVALID_REQUEST_STRUCTURE),
])
def test_strict_where_the_specification_is(change, reason):
    doc = request("identify", referenceId="ref-1") | change
    with pytest.raises(AbisFailure) as caught:
        parse(doc)
    assert caught.value.reason is reason


def test_max_results_and_target_fpir_change_the_answer(tmp_path, monkeypatch):
    partner_env(monkeypatch, tmp_path)
    centre = open_partner_centre()
    ctx = context(centre)
    try:
        with cbeff_server() as server:
            for n in range(3):     # three impressions of one person, and another person
                handle(ctx, json.dumps(request("insert", referenceId=f"same-{n}",
                                               referenceURL=server.add(person_cbeff(81, n)))))
            handle(ctx, json.dumps(request("insert", referenceId="other", referenceURL=server.add(person_cbeff(82)))))

        def found(**flags) -> list[str]:
            reply = handle(ctx, json.dumps(request("identify", referenceId="same-0", flags=flags)))
            return [c["referenceId"] for c in reply["candidateList"]["candidates"]]
        assert sorted(found()) == ["same-1", "same-2"]
        assert len(found(maxResults=1)) == 1
        assert sorted(found(targetFPIR=30)) == ["same-1", "same-2"]
        # the cut follows the flag: min(PAPILLA_IDENTIFY_FMR, FPIR / N) per comparison, N = 4 entries
        # (synthetic mates score far above any cut, fused 30-45: the flag shows in the cut, not in this list)
        assert sorted(found(targetFPIR=60)) == ["same-1", "same-2"]
        cuts = [e["details"]["fmr"] for e in sorted(centre.store.find("audit", {"action": "abis_identify"}),
                                                    key=lambda e: e["seq"])]
        assert cuts[-2] == pytest.approx(1e-4)             # targetFPIR 30: 1e-3 / 4 is above the 1e-4 cap
        assert cuts[-1] == pytest.approx(1e-6 / 4)         # targetFPIR 60
    finally:
        centre.close()
