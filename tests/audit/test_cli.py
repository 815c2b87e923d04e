"""`papilla audit verify|show|checkpoint` at a centre home: sentences and exit codes an auditor relies on."""
from __future__ import annotations

import json

import pytest

from papilla.cli import main
from papilla.identity import ensure_sender
from papilla.shared import audit
from papilla.shared.audit_chain import COLLECTION, META
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.parties import init_centre
from papilla.shared.results import MemoryResultSink

from tests.helpers.audit_trail import fill

IIN, NAME = "900101300123", "Aigerim Testova"
AUDITOR = "pr-auditor-01"


@pytest.fixture
def centre(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAPILLA_AUDIT_CHECKPOINT_EVERY", "5")
    settings = Settings.from_env()
    init_centre(settings)
    opened = Centre.open(settings, publisher=MemoryResultSink())
    ensure_sender(opened, settings, AUDITOR, "principal", role="auditor")   # registering writes no audit entry
    fill(opened, 12)
    yield opened
    opened.close()


def run(capsys, *argv) -> tuple[int, str, str]:
    """`papilla audit …`; show and verify as the registered auditor unless `--principal` is given."""
    if argv[0] in ("show", "verify") and "--principal" not in argv:
        argv = (argv[0], "--principal", AUDITOR, *argv[1:])
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_says_intact_and_exits_zero(centre, capsys):
    code, out, _ = run(capsys, "verify")
    assert code == 0
    assert out.startswith("audit trail intact: 12 entries, head at entry 12, latest signed checkpoint at entry 10")
    assert "2 checkpoint(s) read outside the store" in out


def test_verify_names_the_deleted_entry_and_exits_non_zero(centre, capsys):
    centre.store.delete(COLLECTION, {"_id": 3})
    code, out, err = run(capsys, "verify")
    assert code == 1 and "Traceback" not in out + err
    assert out.splitlines()[0] == "DELETED: Entry 3 was deleted (entry 4 follows entry 2)."
    assert "audit trail NOT intact: 1 problem(s)" in out


def test_verify_writes_the_gauges_the_alert_rules_read(centre, capsys, tmp_path):
    textfile = tmp_path / "papilla-audit.prom"
    assert run(capsys, "verify", "--textfile", str(textfile))[0] == 0
    assert "papilla_audit_verify_ok 1.0" in textfile.read_text()
    centre.store.update(COLLECTION, {"_id": 5}, set={"action": "unblocked"})
    assert run(capsys, "verify", "--textfile", str(textfile))[0] == 1
    text = textfile.read_text()
    assert "papilla_audit_verify_ok 0.0" in text and "papilla_audit_verify_timestamp_seconds" in text


def test_exported_checkpoint_reveals_a_tail_removed_with_everything_at_the_centre(centre, capsys, tmp_path):
    exported = tmp_path / "auditor" / "checkpoint.json"
    code, out, _ = run(capsys, "checkpoint", "--export", str(exported))
    assert code == 0 and out.startswith("checkpoint of entry 12 signed at")
    assert json.loads(exported.read_text())["seq"] == 12
    centre.store.delete(COLLECTION, {"_id": {"$gt": 9}})
    centre.store.delete(META, {})
    (centre.settings.home / "audit-checkpoints" / "checkpoints.jsonl").unlink()
    code, out, _ = run(capsys, "verify", "--checkpoint", str(exported))
    assert code == 1
    assert "TRUNCATED: The trail ends at entry 9 but the checkpoint signed at" in out
    assert "entries 10 to 12 were removed from the end." in out


def test_checkpoint_refuses_to_sign_a_broken_trail(centre, capsys):
    centre.store.update(COLLECTION, {"_id": 2}, set={"actor": "someone-else"})
    code, _, err = run(capsys, "checkpoint")
    assert code == 2 and err.count("\n") == 1 and "Entry 2 was altered" in err


def test_show_never_prints_personal_data_even_from_a_forged_entry(centre, capsys):
    forged = dict(centre.store.get(COLLECTION, 12), _id=13, seq=13, subject_id=IIN,
                  details={"iin": IIN, "name": NAME, "note": f"person {IIN}", "request_id": "req-x"})
    centre.store.insert(COLLECTION, forged)
    code, out, _ = run(capsys, "show", "--limit", "5")
    assert code == 0
    assert IIN not in out and NAME not in out and "Aigerim" not in out
    lines = out.splitlines()
    assert len(lines) == 6 and lines[-1] == "5 entries"
    assert lines[-2].endswith("[MAC FAILS]") and "request_id=req-x" in lines[-2]
    assert "subject=[redacted]" in lines[-2]
    assert "[MAC FAILS]" not in "".join(lines[:-2])


def test_show_filters_and_prints_ids_actions_principals_and_rules(centre, capsys):
    code, out, _ = run(capsys, "show", "--subject", "subj-1", "--json", "--limit", "100")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["seq"] for r in rows] == [2, 6, 10]
    assert set(rows[0]) == {"seq", "at", "action", "subject_id", "actor", "rule", "details", "mac_ok"}
    assert rows[0]["rule"] == "Law Art.9 p.2" and rows[0]["actor"] == "principal-1" and rows[0]["mac_ok"]
    code, out, _ = run(capsys, "show", "--from", "11")      # 11, 12, and 13: the first show's own read
    lines = out.splitlines()
    assert lines[-1] == "3 entries" and lines[0].split()[0] == "11"
    assert lines[-2].split()[2] == "audit_read" and "subject=subj-1" in lines[-2]


def test_missing_audit_key_is_one_sentence(centre, capsys):
    (centre.settings.key_dir / "audit.key").unlink()
    code, _, err = run(capsys, "verify")
    assert code == 2 and err.count("\n") == 1 and "audit key" in err and "papilla centre init" in err


def test_lifecycle_actions_land_in_a_chain_that_verifies(centre):
    """The centre itself appends (as the lifecycle commands do) and the chain still verifies."""
    assert audit.append(centre, "destroyed", subject_id="subj-9", actor="op-1",
                        details={"request_id": "r", "basis": "application"}, rule="Rules 406 p.11") == 13
    assert audit.verify_chain(centre) == []
