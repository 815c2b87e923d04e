"""`papilla station enroll --scanner uru4000` against the emulated 4000B (a custom pyusb backend): the person is
prompted finger by finger, the captures are what the centre opens, and an unplugged scanner or a finger that
never comes gives the operator one sentence (and, when the operator says retry, a second chance)."""
from __future__ import annotations

import os
import shutil
from collections import deque
from datetime import date
from types import SimpleNamespace

import pytest

from papilla.cli import main
from papilla.commands import station_scanner
from papilla.services.capture.drivers.emulated import EmulatedUru4000B
from papilla.services.admission import intake
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.results import MemoryResultSink

from tests.helpers.images import fvc, same_image
from tests.helpers.harness import clean_env, onboard_homes, papilla_cli, valid_iins
from tests.helpers.builders import enroll_flags

STATION, OPERATOR = "st-counter-01", "op-counter-01"
OFFLINE = "amqp://guest:guest@127.0.0.1:1/%2F"          # nothing listens: a captured packet is spooled
IIN = valid_iins(date(1984, 9, 9), True, 40, 1)[0]
FINGERS = {1: "101_1", 2: "102_1"}


@pytest.fixture(scope="module")
def homes(tmp_path_factory, fvc_dir):
    root = tmp_path_factory.mktemp("counter")
    made = onboard_homes(root, clean_env(), stations={STATION: OPERATOR})
    images = root / "person"
    images.mkdir()
    for position, name in FINGERS.items():
        shutil.copy(fvc_dir / "DB1_B" / f"{name}.tif", images / f"{position}.tif")
    return {**made, "images": images}


def enroll_args() -> list[str]:
    return ["station", "enroll", STATION, "--operator", OPERATOR, "--iin", IIN, "--name", "Counter Person",
            "--scanner", "uru4000", "--absent", "amputated", *enroll_flags(IIN, consent_ref="form-31")]


def spooled(homes) -> list:
    return sorted((homes["station"] / "spool").rglob("*.sealed"))


@pytest.fixture
def at_the_counter(homes, monkeypatch):
    """This process plays the station (in-process `papilla` so the test can act on the emulated device)."""
    for key in [k for k in os.environ if k.startswith("PAPILLA_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PAPILLA_HOME", str(homes["station"]))
    monkeypatch.setenv("PAPILLA_BROKER_URL", OFFLINE)
    monkeypatch.setenv(station_scanner.EMULATE_ENV, str(homes["images"]))
    monkeypatch.setenv(station_scanner.TIMEOUT_ENV, "1")
    for old in spooled(homes):
        old.unlink()
    device = EmulatedUru4000B()
    monkeypatch.setattr(station_scanner, "emulated_device", lambda: device)
    return device


def test_enroll_from_the_emulated_4000b_prompts_the_person_and_seals_the_captures(homes, fvc_dir, monkeypatch):
    for old in spooled(homes):
        old.unlink()
    env = clean_env(PAPILLA_BROKER_URL=OFFLINE, **{station_scanner.EMULATE_ENV: str(homes["images"])})
    done = papilla_cli(homes["station"], *enroll_args(), env=env)
    assert "spooled: the broker is unavailable" in done.stdout, done.stdout
    for prompt in ("place the right thumb on the scanner", "place the right index finger on the scanner",
                   "lift the finger from the scanner"):
        assert f"scanner: {prompt}" in done.stderr, done.stderr
    (sealed,) = spooled(homes)
    for key in [k for k in os.environ if k.startswith("PAPILLA_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PAPILLA_HOME", str(homes["centre"]))
    centre = Centre.open(Settings.from_env(), publisher=MemoryResultSink())   # the centre opens what was sealed
    try:
        _, packet = intake.open_message(centre, sealed.read_bytes(), sender_kind="station")
    finally:
        centre.close()
    captured = {f.position: f for f in packet.fingers if f.image is not None}
    assert set(captured) == set(FINGERS)
    for position, name in FINGERS.items():
        shot = SimpleNamespace(png=captured[position].image)
        assert same_image(shot, fvc(fvc_dir, name)), position     # what the person put on the glass
    assert {f.status.value for f in packet.fingers if f.position not in FINGERS} == {"amputated"}


def test_an_unplugged_scanner_is_one_sentence_and_nothing_is_sent(homes, at_the_counter, capsys):
    at_the_counter.faults = deque(["unplug_on_capture"])
    assert main(enroll_args()) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "scanner: the scanner was disconnected; plug it in again and retry"
    assert "Traceback" not in err and spooled(homes) == []


def test_the_operator_plugs_it_back_and_retries(homes, at_the_counter, capsys, monkeypatch):
    at_the_counter.faults = deque(["unplug_on_capture"])
    shown = []

    def operator(error) -> bool:
        shown.append(str(error))
        at_the_counter.plug()          # the cable goes back in
        return True

    monkeypatch.setattr(station_scanner, "ask_operator", operator)
    assert main(enroll_args()) == 0
    assert shown == ["the scanner was disconnected; plug it in again and retry"]
    assert "spooled: the broker is unavailable" in capsys.readouterr().out and len(spooled(homes)) == 1


def test_no_finger_on_the_glass_times_out_with_a_sentence(homes, at_the_counter, capsys, monkeypatch):
    monkeypatch.setattr(at_the_counter, "place_finger", lambda pixels: None)     # the person does not press
    assert main(enroll_args()) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == ("scanner: no finger was placed on the scanner within 1 s; ask the person to place the "
                    "right thumb and retry")
    assert spooled(homes) == []


def test_a_bad_scanner_setting_is_one_sentence(homes, at_the_counter, capsys, monkeypatch):
    monkeypatch.setenv(station_scanner.TIMEOUT_ENV, "forever")
    assert main(enroll_args()) == 2
    assert "PAPILLA_SCANNER_FINGER_TIMEOUT_S must be a number of seconds" in capsys.readouterr().err


def test_without_the_emulator_a_missing_scanner_or_libusb_is_one_sentence(homes):
    done = papilla_cli(homes["station"], *enroll_args(), env=clean_env(PAPILLA_BROKER_URL=OFFLINE), check=False)
    assert done.returncode == 2 and done.stderr.startswith("scanner: no "), done.stderr
    assert done.stderr.strip().count("\n") == 0

