"""The U.are.U 4000B pyusb driver against the emulated scanner (a custom pyusb backend), and the
image-folder device's file names.  Nothing here has touched a real 4000B: docs/scanners.md."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import usb.core
import usb.util
from PIL import Image

from papilla.cli import main
from papilla.services.capture.devices import (
    EmptyFrame,
    FingerNotLifted,
    FolderScanner,
    NoImageForFinger,
    Scanner,
    ScannerError,
    ScannerNotFound,
    ScannerTimeout,
    ScannerUnplugged,
    capture_retrying,
    folder_mapping,
)
from papilla.services.capture.drivers import uru4000_protocol as proto
from papilla.services.capture.drivers.emulated import EmulatedBackend, EmulatedUru4000B
from papilla.services.capture.drivers.uru4000 import Uru4000Params, Uru4000Scanner, decode_frame, find_scanners
from papilla.services.capture.synthetic.scanner import SyntheticScanner
from papilla.services.extract.quality import finger_quality
from tests.helpers.images import expected, fvc, pixels, same_image

FAST = Uru4000Params(finger_timeout_s=0.5, lift_timeout_s=0.5, frame_timeout_ms=300)


class Person:
    """Acts on the driver's prompts: lifts when asked, places the next image when asked."""

    def __init__(self, device: EmulatedUru4000B, images: list[np.ndarray]):
        self.device, self.images, self.prompts = device, list(images), []

    def __call__(self, prompt: str) -> None:
        self.prompts.append(prompt)
        if prompt.startswith("lift"):
            self.device.lift_finger()
        elif prompt.startswith("place") and self.images:
            self.device.place_finger(self.images.pop(0))


@pytest.fixture
def device():
    return EmulatedUru4000B()


@pytest.fixture
def backend(device):
    return EmulatedBackend(device)


def test_emulated_device_enumerates_as_a_4000b(backend):
    dev = usb.core.find(idVendor=0x05BA, idProduct=0x000A, backend=backend)
    intf = dev.get_active_configuration()[(0, 0)]
    assert (intf.bInterfaceClass, intf.bInterfaceSubClass, intf.bInterfaceProtocol) == (0xFF, 0xFF, 0xFF)
    kinds = {ep.bEndpointAddress: usb.util.endpoint_type(ep.bmAttributes) for ep in intf}
    assert kinds == {0x81: usb.util.ENDPOINT_TYPE_INTR, 0x82: usb.util.ENDPOINT_TYPE_BULK}
    assert [str(s) for s in find_scanners(backend)] == ["DigitalPersona U.are.U 4000B (USB 05ba:000a, bus 1 address 2)"]
    assert find_scanners(EmulatedBackend()) == []


def test_captures_an_fvc_image_after_powering_up(fvc_dir, device, backend):
    image = fvc(fvc_dir, "101_1")
    scanner = Uru4000Scanner(FAST, backend=backend)
    assert isinstance(scanner, Scanner)
    device.place_finger(image)
    assert device.hwstat & proto.HWSTAT_LOW_POWER              # plugged in asleep
    shot = scanner.capture(1)
    assert not device.hwstat & proto.HWSTAT_LOW_POWER           # the driver woke it up
    assert (shot.finger_position, shot.width, shot.height, shot.dpi) == (1, 384, 290, 512)
    assert same_image(shot, image)
    assert finger_quality(shot.png, shot.dpi) > 0               # usable by the extractor


def test_scrambled_frames_are_unscrambled_with_the_key_from_the_scanner(fvc_dir, backend):
    image = fvc(fvc_dir, "102_1")
    device = EmulatedUru4000B(encrypt=True)
    device.place_finger(image)
    shot = Uru4000Scanner(FAST, backend=EmulatedBackend(device)).capture(2)
    assert same_image(shot, image, lost=2)
    device.place_finger(image)
    device.mode = proto.MODE_CAPTURE
    frame = device._build_frame()
    assert proto.parse_header(frame).encrypted
    wrong = decode_frame(frame, key_for=lambda number: 0x12345678)
    assert (wrong[1:] != expected(image)[1:]).mean() > 0.9      # without the scanner's key it is noise


def test_captures_a_synthetic_impression(backend, device):
    impression = pixels(SyntheticScanner(person_seed=5, session_seed=1).capture(3))
    device.place_finger(impression)
    assert same_image(Uru4000Scanner(FAST, backend=backend).capture(3), impression)


def test_waits_for_the_finger_to_be_placed(fvc_dir, device, backend):
    image = fvc(fvc_dir, "103_1")
    scanner = Uru4000Scanner(Uru4000Params(finger_timeout_s=10), backend=backend)
    person = threading.Thread(target=lambda: device.wait_for_mode(proto.MODE_AWAIT_FINGER_ON)
                              and device.place_finger(image))
    person.start()
    shot = scanner.capture(6)
    person.join()
    assert same_image(shot, image)


def test_next_finger_waits_until_the_previous_one_is_lifted(fvc_dir, device, backend):
    first, second = fvc(fvc_dir, "104_1"), fvc(fvc_dir, "105_1")
    person = Person(device, [first, second])
    scanner = Uru4000Scanner(FAST, backend=backend, on_prompt=person)
    assert same_image(scanner.capture(1), first)
    assert same_image(scanner.capture(2), second)
    assert person.prompts == ["place the right thumb on the scanner", "lift the finger from the scanner",
                              "place the right index finger on the scanner"]


def test_finger_left_on_the_glass_is_reported_and_retried(fvc_dir, device, backend):
    first, second = fvc(fvc_dir, "104_1"), fvc(fvc_dir, "105_1")
    device.place_finger(first)
    scanner = Uru4000Scanner(FAST, backend=backend)
    scanner.capture(1)
    with pytest.raises(FingerNotLifted, match="stayed on the scanner") as err:
        scanner.capture(2)                                     # nobody lifts
    assert err.value.retryable and isinstance(err.value, ScannerTimeout)
    device.lift_finger()
    device.place_finger(second)                                # too early: must still be seen as a new touch
    assert same_image(scanner.capture(2), second)


def test_no_finger_times_out_then_retry_captures(fvc_dir, device, backend):
    scanner = Uru4000Scanner(FAST, backend=backend)
    with pytest.raises(ScannerTimeout, match="no finger was placed on the scanner within 0.5 s") as err:
        scanner.capture(7)
    assert "left index finger" in str(err.value)
    image = fvc(fvc_dir, "106_1")
    device.place_finger(image)
    assert same_image(scanner.capture(7), image)


@pytest.mark.parametrize("fault, error, words", [
    ("empty_frame", EmptyFrame, "empty image"),
    ("truncated_frame", EmptyFrame, "incomplete image"),
    ("blank_frame", EmptyFrame, "saw no fingerprint"),
    ("no_frame", ScannerTimeout, "did not send the image in time"),
])
def test_bad_frames_give_a_message_and_the_retry_captures(fvc_dir, device, backend, fault, error, words):
    image = fvc(fvc_dir, "107_1")
    person = Person(device, [image, image])
    scanner = Uru4000Scanner(FAST, backend=backend, on_prompt=person)
    device.faults.append(fault)
    with pytest.raises(error, match=words) as err:
        scanner.capture(4)
    assert err.value.retryable
    assert same_image(scanner.capture(4), image)


def test_unplug_during_capture_then_plug_back(fvc_dir, device, backend):
    image = fvc(fvc_dir, "108_1")
    device.place_finger(image)
    scanner = Uru4000Scanner(FAST, backend=backend)
    device.faults.append("unplug_on_capture")
    with pytest.raises(ScannerUnplugged, match="disconnected; plug it in again and retry"):
        scanner.capture(5)
    with pytest.raises(ScannerNotFound, match="no DigitalPersona U.are.U 4000B scanner is connected"):
        scanner.capture(5)                                     # retry before it is back
    device.plug()
    assert device.hwstat & proto.HWSTAT_LOW_POWER
    assert same_image(scanner.capture(5), image)               # found again and powered up again
    assert not device.hwstat & proto.HWSTAT_LOW_POWER


def test_unplug_between_captures(fvc_dir, device, backend):
    image = fvc(fvc_dir, "109_1")
    person = Person(device, [image, image])
    scanner = Uru4000Scanner(FAST, backend=backend, on_prompt=person)
    scanner.capture(8)
    device.unplug()
    with pytest.raises(ScannerUnplugged):
        scanner.capture(9)
    device.plug()
    device.lift_finger()
    assert same_image(scanner.capture(9), image)


def test_a_lost_power_up_interrupt_is_retried(fvc_dir, device, backend):
    device.faults.append("no_scanpwr_irq")
    device.place_finger(fvc(fvc_dir, "110_1"))
    assert Uru4000Scanner(FAST, backend=backend).capture(10).width == 384
    assert "no_scanpwr_irq" not in device.faults


def test_capture_retrying_asks_the_operator(fvc_dir, device, backend):
    image = fvc(fvc_dir, "101_2")
    asked = []

    def operator(error: ScannerError) -> bool:
        asked.append(str(error))
        device.place_finger(image)                             # the operator tells the person; they comply
        return True

    shot = capture_retrying(Uru4000Scanner(FAST, backend=backend), 1, ask_retry=operator)
    assert same_image(shot, image) and len(asked) == 1 and asked[0].startswith("no finger was placed")
    with pytest.raises(ScannerTimeout):                        # the operator gives up: the error stands
        capture_retrying(Uru4000Scanner(FAST, backend=EmulatedBackend(EmulatedUru4000B())), 1,
                         ask_retry=lambda error: False)


def test_messages_are_one_sentence_without_data(device, backend):
    errors = []
    for fault in ("empty_frame", "unplug_on_capture"):
        device.faults.append(fault)
        device.place_finger(np.full((300, 300), 90, np.uint8))
        try:
            Uru4000Scanner(FAST, backend=backend).capture(1)
        except ScannerError as exc:
            errors.append(str(exc))
        device.plug()
    with pytest.raises(ScannerNotFound) as err:
        Uru4000Scanner(FAST, backend=EmulatedBackend()).capture(1)
    errors.append(str(err.value))
    assert len(errors) == 3
    for message in errors:
        assert "\n" not in message and message.count(". ") == 0 and len(message) < 160 and message[0].islower()


def test_folder_device_accepts_fvc_file_names(fvc_dir):
    scanner = FolderScanner.from_folder(fvc_dir / "DB2_B")
    assert sorted(scanner.mapping) == list(range(1, 11))
    assert scanner.mapping[1] == "101_1.tif" and scanner.mapping[10] == "110_1.tif"
    first, retake = scanner.capture(3), scanner.capture(3)
    assert first.dpi == 569                                    # from FVC's dpi.json
    with Image.open(fvc_dir / "DB2_B" / "103_2.tif") as img:   # a retake reads the next impression
        assert np.array_equal(pixels(retake), np.asarray(img.convert("L")))
    assert first.png != retake.png


def test_folder_names_by_position_and_mistakes(tmp_path):
    img = Image.fromarray(np.full((50, 40), 128, np.uint8))
    for name in ("1.png", "2_1.png", "2_2.png", "readme.txt"):
        (img.save(tmp_path / name) if name.endswith(".png") else (tmp_path / name).write_text("x"))
    assert folder_mapping(tmp_path) == {1: ["1.png"], 2: ["2_1.png", "2_2.png"]}
    scanner = FolderScanner.from_folder(tmp_path)
    with pytest.raises(NoImageForFinger, match="holds no image for finger position 3") as err:
        scanner.capture(3)
    assert isinstance(err.value, KeyError) and not err.value.retryable
    many = tmp_path / "many"
    many.mkdir()
    for finger in range(101, 112):
        img.save(many / f"{finger}_1.tif")
    with pytest.raises(ValueError, match="11 different fingers"):
        folder_mapping(many)
    with pytest.raises(ValueError, match="no image files named"):
        folder_mapping(_empty(tmp_path))
    with pytest.raises(ValueError, match="no such folder"):
        folder_mapping(tmp_path / "missing")


def _empty(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    return path


def test_scanner_probe_command_lists_the_emulated_scanner(capsys):
    assert main(["scanner", "probe", "--emulated"]) == 0
    assert "DigitalPersona U.are.U 4000B (USB 05ba:000a" in capsys.readouterr().out
