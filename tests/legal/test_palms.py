"""Palms (issue 19; Law Art.10-1 p.4 para.2): a person subject to deportation or readmission without a
printable finger is registered on the palms by the Law. Palm capture (ISO/IEC 19794-4 palm positions) is not
built: the application is refused with that citation, at the station's decision and again at the centre, and
no record without biometrics is ever made."""
from __future__ import annotations

import json
from datetime import date

import pytest

from papilla.cli import main
from papilla.services.admission import intake
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal

from tests.helpers.legal_records import sealed_enrollment

PALMS = "Law on dactyloscopic and genomic registration, Art.10-1 p.4 para.2"


def test_the_decision_refuses_with_the_palm_rule(capsys):
    code = main(["legal", "decide", "--basis", "deportation_readmission", "--birth", "1990-01-01", "--applied",
                 "2026-11-23", "--citizenship", "foreigner", "--all-fingers", "amputated", "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert (answer["decision"], answer["code"], answer["citation"]) == ("refused", "palms_required", PALMS)
    assert "palms" in answer["detail"] and code == 0     # the decision was made; it is a refusal


@pytest.mark.parametrize("status", ["amputated", "unable_to_print"])
def test_the_centre_refuses_a_packet_with_no_finger_and_stores_nothing(centre, fvc_dir, status):
    iin = make_test_iin(date(1990, 1, 1), True, 91)
    sealed = sealed_enrollment(centre, fvc_dir, f"st-unit-01-palm-{status}", iin, {}, basis="deportation_readmission",
                               others=status, citizenship="foreigner")
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, sealed)
    assert (err.value.code, err.value.rule) == ("palms_required", PALMS)
    assert centre.store.count("enrollments", {}) == 0 and centre.store.count("subjects", {}) == 0
