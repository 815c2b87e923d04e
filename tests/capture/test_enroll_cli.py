"""`papilla station enroll` and `papilla station status` as an operator meets them: every mistake is one sentence
and a non-zero exit, never a traceback; a broker outage spools (and says so); the receipt and the spool's facts."""
from __future__ import annotations

import json
import shutil
from datetime import date

import pytest

from papilla.cli import main
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.parties import export_centre_public, init_centre

STATION, OPERATOR = "st-cli-01", "op-cli-01"
IIN = make_test_iin(date(1986, 4, 12), False, 61)
OFFLINE = "amqp://guest:guest@127.0.0.1:1/%2F"      # nothing listens there


@pytest.fixture(scope="module")
def centre_public(tmp_path_factory):
    home = tmp_path_factory.mktemp("centre")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPILLA_HOME", str(home))
        settings = Settings.from_env()
        init_centre(settings)
        export_centre_public(settings, home / "exported.json")
    return home / "exported.json"


@pytest.fixture(scope="module")
def images(tmp_path_factory, fvc_dir):
    folder = tmp_path_factory.mktemp("fingers")
    for position in range(1, 11):
        shutil.copy(fvc_dir / "DB1_B" / f"{100 + position}_1.tif", folder / f"{position}.tif")
    return folder


@pytest.fixture
def station_home(tmp_path, monkeypatch, centre_public, capsys):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    monkeypatch.setenv("PAPILLA_BROKER_URL", OFFLINE)
    monkeypatch.setenv("PAPILLA_MIN_FINGER_QUALITY", "0")
    for env in ("PAPILLA_CENTRE_PUBLIC_KEY", "PAPILLA_SPOOL_DIR", "PAPILLA_STATION_KEY_DIR", "PAPILLA_KEY_DIR"):
        monkeypatch.delenv(env, raising=False)
    assert main(["station", "init", STATION]) == 0
    assert main(["principal", "init", OPERATOR, "--role", "operator"]) == 0
    shutil.copy(centre_public, tmp_path / "centre-public.json")
    capsys.readouterr()
    return tmp_path


def enroll_args(folder, *extra: str, station: str = STATION, operator: str = OPERATOR, iin: str = IIN) -> list[str]:
    return ["station", "enroll", station, "--operator", operator, "--iin", iin, "--name", "Asel Test",
            "--document-type", "id_card", "--document-number", "N04412345", "--document-birth-date", "1986-04-12",
            "--consent-ref", "form-406-0001", "--conditions-explained", "--images", str(folder), *extra]


def run(capsys, argv) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:          # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def spooled(home) -> list:
    return sorted((home / "spool" / STATION).glob("*.sealed"))


def test_a_missing_folder_is_named(station_home, capsys):
    code, _, err = run(capsys, enroll_args(station_home / "no-such-folder"))
    assert code == 2 and one_sentence(err) == f"papilla: {station_home / 'no-such-folder'}: no such folder"


def test_a_folder_with_fewer_images_asks_why_the_others_are_missing(station_home, images, capsys, tmp_path):
    folder = tmp_path / "three"
    folder.mkdir()
    for position in (1, 2, 3):
        shutil.copy(images / f"{position}.tif", folder / f"{position}.tif")
    code, _, err = run(capsys, enroll_args(folder))
    assert code == 2
    assert one_sentence(err) == ("papilla: no image for finger position(s) 4, 5, 6, 7, 8, 9, 10: say why they are "
                                 "missing with --absent amputated|unable_to_print|injured")
    code, out, err = run(capsys, enroll_args(folder, "--absent", "injured"))
    assert code == 0 and "finger 4 (right ring): injured (Rules 406, p.7)" in out and len(spooled(station_home)) == 1


def test_an_unreadable_image_file_is_named(station_home, images, capsys, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(images, folder)
    (folder / "4.tif").write_bytes(b"this is not an image")
    code, _, err = run(capsys, enroll_args(folder))
    assert code == 2
    assert one_sentence(err) == (f"scanner: {folder / '4.tif'}: the image for finger position 4 cannot be read "
                                 "(not an image, damaged, or unreadable)")
    assert spooled(station_home) == []


@pytest.mark.parametrize("who", ["station", "operator"])
def test_an_unknown_station_or_operator_has_no_keys_here(station_home, images, capsys, who):
    argv = enroll_args(images, **{who: f"{who[:2]}-nobody"})
    code, _, err = run(capsys, argv)
    assert code == 2 and one_sentence(err).startswith(f"papilla: no keys for {who[:2]}-nobody in ")


def test_a_missing_centre_public_key_is_named(station_home, images, capsys):
    (station_home / "centre-public.json").unlink()
    code, _, err = run(capsys, enroll_args(images))
    assert code == 2 and one_sentence(err).startswith("papilla: no centre public key file at ")


def test_an_invalid_iin_names_the_failed_check_only(station_home, images, capsys):
    bad = IIN[:11] + str((int(IIN[11]) + 1) % 10)
    code, _, err = run(capsys, enroll_args(images, iin=bad))
    assert code == 2
    assert one_sentence(err) == "papilla: --iin is not a valid IIN: IIN check digit does not match (check: check digit)"
    assert bad not in err


def test_a_document_birth_date_other_than_the_iins_is_refused_with_the_rule(station_home, images, capsys):
    argv = enroll_args(images)
    argv[argv.index("1986-04-12")] = "1986-04-21"
    code, _, err = run(capsys, argv)
    assert code == 2 and one_sentence(err).startswith("refused: the date of birth on the identity document differs")
    assert err.rstrip().endswith("(Rules 406, p.3 para.1)") and "1986" not in err and spooled(station_home) == []


def test_consent_is_never_assumed(station_home, images, capsys):
    argv = enroll_args(images)
    argv.remove("--conditions-explained")
    code, _, err = run(capsys, argv)
    assert code == 2 and "(Rules 406, p.3 para.2)" in one_sentence(err)
    ref = argv.index("--consent-ref")
    code, _, err = run(capsys, argv[:ref] + argv[ref + 2:])            # no form at all, for a voluntary basis
    assert code == 2 and one_sentence(err) == ("refused: no written consent: this basis registers a person only "
                                               "with their consent (Rules 406, p.3; Annex)")
    code, _, err = run(capsys, argv[:ref] + argv[ref + 2:] + ["--conditions-explained"])
    assert code == 2 and "--consent-ref" in one_sentence(err)         # consent facts without the form
    assert spooled(station_home) == []


def test_a_finger_below_the_gate_aborts_a_script_and_nothing_is_sent(station_home, images, capsys, monkeypatch):
    monkeypatch.setenv("PAPILLA_MIN_FINGER_QUALITY", "100")
    code, out, err = run(capsys, enroll_args(images, "--attempts", "1"))
    assert code == 1 and one_sentence(err).startswith("aborted: finger 1 stayed below the quality gate (")
    assert "nothing was sent" in err and out == "" and spooled(station_home) == []
    code, _, err = run(capsys, enroll_args(images, "--below-gate", "exception"))
    assert code == 2 and one_sentence(err).startswith("papilla: --below-gate exception needs --exception-reason")


def test_a_broker_outage_spools_says_so_and_status_shows_it(station_home, images, capsys):
    code, out, err = run(capsys, enroll_args(images, "--json"))
    receipt = json.loads(out)
    assert code == 0 and receipt["sent"] is False and receipt["citation"] == "Rules 406, p.4"
    assert [f["status"] for f in receipt["fingers"]] == ["captured"] * 10
    code, out, err = run(capsys, enroll_args(images, "--wait", "5"))     # nothing to wait for: it is spooled
    assert code == 0 and err == ""
    assert "spooled: the broker is unavailable, `papilla station flush` sends it later" in out
    assert "allowed: voluntary under adult_voluntary (Rules 406, p.4)" in out
    assert len(spooled(station_home)) == 2

    code, out, _ = run(capsys, ["station", "status", STATION, "--json"])
    facts = json.loads(out)
    assert code == 0 and facts["packets"] == 2 and facts["oldest_age_seconds"] >= 0
    assert facts["last_error"]["kind"] and "stays spooled" in facts["last_error"]["detail"]
    code, out, _ = run(capsys, ["station", "status", STATION])
    assert out.splitlines()[0].startswith(f"station {STATION}: 2 packet(s) waiting in the spool, the oldest for ")
    assert "last send error at " in out and IIN not in out and "Asel" not in out
    code, out, _ = run(capsys, ["station", "metrics", STATION])
    assert f'papilla_station_spool_packets{{station="{STATION}"}} 2.0' in out
    code, out, err = run(capsys, ["station", "flush", STATION])
    assert code == 1 and out == "sent 0, 2 still spooled\n" and one_sentence(err).startswith("last send error: ")


@pytest.mark.broker
@pytest.mark.parametrize("url,says", [
    ("amqp://guest:wrong@127.0.0.1:5672/%2F", "refused the user name or password"),
    ("amqp://guest:guest@127.0.0.1:5672/papilla-no-such-vhost", "denied access to the virtual host"),
])
def test_wrong_broker_credentials_or_vhost_are_said_and_nothing_is_spooled(station_home, images, capsys,
                                                                           monkeypatch, url, says):
    monkeypatch.setenv("PAPILLA_BROKER_URL", url)
    code, _, err = run(capsys, enroll_args(images))
    assert code == 2 and says in one_sentence(err) and "wrong" not in err
    assert spooled(station_home) == []


@pytest.mark.broker
def test_no_decision_in_time_is_one_sentence_and_exit_3(station_home, images, capsys, monkeypatch):
    from tests.helpers.harness import Vhost

    with Vhost() as url:                      # a broker with nobody serving the centre's queues
        monkeypatch.setenv("PAPILLA_BROKER_URL", url)
        code, out, err = run(capsys, enroll_args(images, "--wait", "1"))
    assert code == 3 and one_sentence(err) == ("no decision within 1 s; the packet is at the centre: "
                                          f"`papilla station answers {STATION}` shows its decision later")
    assert "sent to the centre" in out and spooled(station_home) == []
    code, out, _ = run(capsys, ["station", "status", STATION])
    assert "0 packet(s) waiting" in out and "no error recorded" in out


def test_status_of_a_station_this_home_does_not_know_is_a_mistake(station_home, capsys):
    code, _, err = run(capsys, ["station", "status", "st-typo-01"])
    assert code == 2 and one_sentence(err).startswith("papilla: no keys for st-typo-01 in ")
    code, out, _ = run(capsys, ["station", "status", STATION])       # known, nothing sent yet
    assert code == 0 and out.startswith(f"station {STATION}: 0 packet(s) waiting in the spool\n")
