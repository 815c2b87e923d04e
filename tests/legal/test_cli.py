"""`papilla legal decide` and `papilla iin make`: the same decision from the command line; mistakes are one
sentence and exit 2."""
from __future__ import annotations

import json
from datetime import date

import pytest

from papilla.cli import main
from papilla.shared.crypto.iin import birth_date_from_iin, iin_is_male

LAW = "Law on dactyloscopic and genomic registration, "


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_exit(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        return run(capsys, *argv)
    except SystemExit as exc:     # argparse's usage errors
        out, err = capsys.readouterr()
        return exc.code, out, err


def test_decide_json_prints_decision_rule_and_citation(capsys):
    code, out, _ = run(capsys, "legal", "decide", "--basis", "public_service_authentication", "--birth", "2008-05-18",
                       "--applied", "2026-05-18T02:00+05:00", "--json")
    answer = json.loads(out)
    assert code == 0 and (answer["decision"], answer["rule"], answer["citation"]) == \
        ("voluntary", "adult_voluntary", "Rules 406, p.4")


def test_decide_with_every_input_as_a_flag(capsys):
    code, out, _ = run(capsys, "legal", "decide", "--basis", "passport_child_12_16", "--birth", "2013-01-10",
                       "--applied", "2026-11-23", "--present", "legal_representative=app-4/2026",
                       "--finger", "2=injured", "--finger", "3=amputated", "--json")
    answer = json.loads(out)
    assert (answer["decision"], answer["citation"], answer["age"]) == ("voluntary", LAW + "Art.10 p.4", 13)
    assert {"rule": "injured_fingers_skipped", "citation": "Rules 406, p.7"} in answer["also"]
    code, out, _ = run(capsys, "legal", "decide", "--basis", "visa", "--birth", "1980-01-01", "--citizenship",
                       "foreigner", "--previously-registered", "--applied", "2026-11-23")
    assert code == 0 and out.startswith("verify_instead:") and f"({LAW}Art.10 p.3)" in out
    code, out, _ = run(capsys, "legal", "decide", "--basis", "id_document", "--birth", "1980-01-01",
                       "--all-fingers", "injured", "--applied", "2026-11-23", "--json")
    assert (json.loads(out)["code"], json.loads(out)["citation"]) == ("postponed_injured", "Rules 406, p.7")


def test_decide_takes_the_birth_date_from_an_iin(capsys):
    code, out, _ = run(capsys, "legal", "decide", "--basis", "public_service_authentication", "--iin",
                       "900517400015", "--applied", "2026-11-23", "--json")
    assert code == 0 and json.loads(out)["age"] == 36


@pytest.mark.parametrize("argv,says", [
    (("--basis", "tourism", "--birth", "1990-01-01"), "unknown legal basis 'tourism'"),
    (("--basis", "visa", "--birth", "1990-02-30"), "not a date"),
    (("--basis", "visa", "--birth", "1990-01-01", "--present", "aunt=x"), "not one of legal_representative"),
    (("--basis", "visa", "--birth", "1990-01-01", "--finger", "11=injured"), "POSITION=STATUS"),
    (("--basis", "id_document", "--birth", "1990-01-01", "--exemption", "honorary_consul"), "visa applications only"),
    (("--basis", "visa",), "--birth or --iin"),
    (("--basis", "visa", "--iin", "123"), "twelve"),
    (("--basis", "visa", "--birth", "1990-01-01", "--applied", "2026-01-01T10:00"), "with its offset"),
])
def test_decide_mistakes_are_one_sentence_and_exit_2(capsys, argv, says):
    code, out, err = run_exit(capsys, "legal", "decide", *argv)
    assert code == 2 and out == "" and says in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_iin_make_gives_a_valid_iin_with_that_birth_date_and_sex(capsys):
    code, out, _ = run(capsys, "iin", "make", "--birth", "1990-05-17", "--sex", "F")
    iin = out.strip()
    assert code == 0 and birth_date_from_iin(iin) == date(1990, 5, 17) and not iin_is_male(iin)
    code, out, _ = run(capsys, "iin", "make", "--birth", "2004-02-29", "--sex", "M", "--serial", "7")
    assert birth_date_from_iin(out.strip()) == date(2004, 2, 29) and iin_is_male(out.strip())


@pytest.mark.parametrize("argv,says", [
    (("--birth", "1990-05-32", "--sex", "F"), "not a date"),
    (("--birth", "1790-05-01", "--sex", "F"), "between 1800 and 2099"),
    (("--birth", "1990-05-01", "--sex", "X"), "invalid choice"),
    (("--birth", "1990-05-01", "--sex", "F", "--serial", "12345"), "0..9999"),
])
def test_iin_make_mistakes_are_one_sentence_and_exit_2(capsys, argv, says):
    code, out, err = run_exit(capsys, "iin", "make", *argv)
    assert code == 2 and out == "" and says in err and len(err.strip().splitlines()) == 1
