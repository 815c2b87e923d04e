"""A station enrolls from an ANSI/NIST-ITL file: its images are the captures, its amputation / unprintable
codes the statuses of the other fingers; the packet is sealed and spooled as any other (broker offline)."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.cli import main
from papilla.commands.station import finger_statuses
from papilla.services.capture.ansi_nist_scanner import AnsiNistScanner
from papilla.services.capture.devices import NoImageForFinger
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.formats.ansi_nist import NistFinger, Transaction
from papilla.shared.formats.ansi_nist_write import write_transaction
from papilla.shared.parties import export_centre_public, init_centre
from tests.helpers.abis import encoded, finger_pixels

STATION, OPERATOR = "st-nist-01", "op-nist-01"
IIN = make_test_iin(date(1985, 3, 9), True, 71)
OFFLINE = "amqp://guest:guest@127.0.0.1:1/%2F"      # nothing listens there: the packet is spooled


@pytest.fixture(scope="module")
def transaction_file(tmp_path_factory):
    fingers = [NistFinger(position=p, image=encoded(finger_pixels(51, p, 0), "wsq" if p % 2 else "jpeg2000"),
                          compression="wsq" if p % 2 else "jpeg2000", width=320, height=400, ppi=500,
                          image_type=4 if p == 1 else 14)
               for p in (1, 2, 4, 5, 6, 7, 9, 10)]
    fingers += [NistFinger(position=3, status="amputated"), NistFinger(position=8, status="unable_to_print")]
    path = tmp_path_factory.mktemp("nist") / "person.an2"
    path.write_bytes(write_transaction(Transaction(tot="CAR", tcn="CARD-0001", date="20261207",
                                                   fingers=tuple(fingers))))
    return path


def test_the_scanner_reads_images_and_declared_exceptions(transaction_file):
    scanner = AnsiNistScanner(transaction_file)
    assert sorted(scanner.mapping) == [1, 2, 4, 5, 6, 7, 9, 10]
    assert scanner.exceptions == {3: "amputated", 8: "unable_to_print"}
    capture = scanner.capture(7)
    assert (capture.width, capture.height, capture.dpi) == (320, 400, 500)
    with pytest.raises(NoImageForFinger):
        scanner.capture(3)
    statuses = finger_statuses(scanner, absent=None)      # no --absent needed: the file says why
    assert statuses[3] == "amputated" and statuses[8] == "unable_to_print" and statuses[1] == "captured"


def test_station_enroll_from_the_file(transaction_file, tmp_path, monkeypatch, capsys):
    centre_home = tmp_path / "centre"
    monkeypatch.setenv("PAPILLA_HOME", str(centre_home))
    init_centre(Settings.from_env())
    export_centre_public(Settings.from_env(), tmp_path / "centre-public.json")
    station_home = tmp_path / "station"
    monkeypatch.setenv("PAPILLA_HOME", str(station_home))
    monkeypatch.setenv("PAPILLA_BROKER_URL", OFFLINE)
    monkeypatch.setenv("PAPILLA_MIN_FINGER_QUALITY", "0")
    monkeypatch.setenv("PAPILLA_CENTRE_PUBLIC_KEY", str(tmp_path / "centre-public.json"))
    for env in ("PAPILLA_SPOOL_DIR", "PAPILLA_STATION_KEY_DIR", "PAPILLA_KEY_DIR"):
        monkeypatch.delenv(env, raising=False)
    assert main(["station", "init", STATION]) == 0
    assert main(["principal", "init", OPERATOR, "--role", "operator"]) == 0
    capsys.readouterr()
    code = main(["station", "enroll", STATION, "--operator", OPERATOR, "--iin", IIN, "--name", "Test Person",
                 "--document-type", "id_card", "--document-number", "N04412399", "--document-birth-date",
                 "1985-03-09", "--consent-ref", "form-406-0009", "--conditions-explained",
                 "--ansi-nist", str(transaction_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "amputated" in out and "unable" in out
    assert len(list((station_home / "spool" / STATION).glob("*.sealed"))) == 1


def test_a_damaged_file_is_one_sentence(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.an2"
    bad.write_bytes(b"1.001:12\x1dnot a transaction")
    with pytest.raises(Exception) as caught:
        AnsiNistScanner(bad)
    assert "bad.an2" in str(caught.value) and "\n" not in str(caught.value)
