"""`papilla lifecycle …` as an operator at the centre runs it: sweep on a set clock, two signatures, access requests,
and every mistake one sentence with a non-zero exit."""
from __future__ import annotations

from datetime import date

from papilla.cli import main
from papilla.shared.crypto.iin import make_test_iin

from tests.helpers.retention import enroll, principal

IIN = make_test_iin(date(1980, 1, 1), True, 41)


def test_sweep_sign_and_carry_out_from_the_command_line(centre, capsys, monkeypatch):
    enroll(centre, "enr-cli", IIN, "visa", date(2016, 11, 22))
    principal(centre, "pr-head", "head_of_unit")
    principal(centre, "pr-admin", "administrator")
    monkeypatch.setenv("PAPILLA_CLOCK", "2026-11-22T09:00:00+05:00")
    assert main(["lifecycle", "sweep", "--quiet"]) == 0
    assert "2026-11-22: archived 1, proposed for destruction 0" in capsys.readouterr().out
    monkeypatch.setenv("PAPILLA_CLOCK", "2066-11-22T09:00:00+05:00")
    assert main(["lifecycle", "sweep", "--quiet"]) == 0
    act_id = capsys.readouterr().out.split(" in act ")[1].split(",")[0]
    assert main(["lifecycle", "sign", act_id, "--decision", "countersign", "--principal", "pr-head"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "may not countersign_destruction_act" in err
    assert main(["lifecycle", "sign", act_id, "--decision", "approve", "--principal", "pr-head"]) == 0
    assert main(["lifecycle", "sign", act_id, "--decision", "countersign", "--principal", "pr-admin"]) == 0
    assert f"act {act_id}: approved" in capsys.readouterr().out
    assert main(["lifecycle", "sweep", "--quiet"]) == 0
    assert "acts carried out 1" in capsys.readouterr().out
    assert centre.store.get("enrollments", "enr-cli") is None


def test_access_request_from_the_command_line(centre, capsys, monkeypatch):
    principal(centre, "pr-op", "operator")
    monkeypatch.setenv("PAPILLA_CLOCK", "2026-11-20T10:00:00+05:00")
    assert main(["lifecycle", "access", "receive", "--id", "acc-cli", "--iin", IIN, "--principal", "pr-op"]) == 0
    out = capsys.readouterr().out
    assert "answer due by 2026-11-25" in out and IIN not in out
    monkeypatch.setenv("PAPILLA_CLOCK", "2026-11-26T10:00:00+05:00")
    assert main(["lifecycle", "access", "overdue"]) == 0
    assert "acc-cli\n1 overdue access request(s)" in capsys.readouterr().out


def test_mistakes_are_one_sentence(centre, capsys, monkeypatch):
    principal(centre, "pr-op", "operator")
    for argv in (["lifecycle", "sign", "act-nope", "--decision", "approve", "--principal", "pr-op"],
                 ["lifecycle", "access", "receive", "--id", "acc-bad", "--iin", "123", "--principal", "pr-op"],
                 ["lifecycle", "access", "answer", "acc-none", "--principal", "pr-nobody"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("papilla: ") and err.count("\n") == 1 and "Traceback" not in err
    monkeypatch.setenv("PAPILLA_CLOCK", "yesterday")
    assert main(["lifecycle", "sweep", "--quiet"]) == 2
    assert "PAPILLA_CLOCK must be" in capsys.readouterr().err
