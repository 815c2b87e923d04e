"""`papilla station enroll --scanner uru4000`: capture from a DigitalPersona U.are.U 4000B at the counter.

Each finger goes through `capture_retrying`: what the person must do ("place the right thumb on the scanner",
"lift the finger") is shown as the driver asks; a capture that fails (`ScannerError`: unplugged, no finger in
time, no image, a blank frame) is shown to the operator in one sentence, and at a terminal they choose to retry
(after plugging the cable back, asking for the finger again) or stop. Without a terminal (a script) the first
failure stops the enrollment with that sentence and exit 2: nothing is sealed or sent.

Settings (environment, defaults in `Uru4000Params`):
  PAPILLA_SCANNER_FINGER_TIMEOUT_S   seconds the person has to put the finger on the glass (15)
  PAPILLA_SCANNER_RETRIES            captures tried per finger when the operator says retry (5)
  PAPILLA_SCANNER_EMULATE=DIR        training without hardware: the emulated 4000B (a custom pyusb backend,
                                     services/capture/drivers/emulated.py), on which a simulated person places
                                     the images of DIR (named 1.png … 10.png or FVC 101_1.tif …) when asked
"""
from __future__ import annotations

import dataclasses
import os
import sys
from typing import Callable

import numpy as np
from PIL import Image

from papilla.services.capture.devices import (CapturedImage, FolderScanner, ScannerError, capture_retrying,
                                              folder_mapping)
from papilla.services.capture.drivers.emulated import EmulatedBackend, EmulatedUru4000B
from papilla.services.capture.drivers.uru4000 import Uru4000Params, Uru4000Scanner

EMULATE_ENV, TIMEOUT_ENV, RETRIES_ENV = "PAPILLA_SCANNER_EMULATE", "PAPILLA_SCANNER_FINGER_TIMEOUT_S", \
    "PAPILLA_SCANNER_RETRIES"


class PromptedPerson:
    """The person at an emulated scanner: places the image of the finger being captured when asked, lifts it
    when asked (`on_prompt` of the driver)."""

    def __init__(self, device: EmulatedUru4000B, images: dict[int, np.ndarray]):
        self.device, self.images, self.position = device, images, None

    def __call__(self, prompt: str) -> None:
        if prompt.startswith("lift"):
            self.device.lift_finger()
        elif prompt.startswith("place") and self.position in self.images:
            self.device.place_finger(self.images[self.position])


class CounterScanner:
    """The 4000B as the station uses it: every capture retried while the operator agrees (`ask_retry`);
    `mapping` lists the finger positions the device can give (all ten, or an emulated person's)."""

    def __init__(self, driver: Uru4000Scanner, ask_retry: Callable[[ScannerError], bool], attempts: int,
                 positions: tuple[int, ...] = tuple(range(1, 11)), person: PromptedPerson | None = None):
        self.driver, self.ask_retry, self.attempts, self.person = driver, ask_retry, attempts, person
        self.mapping = {p: "scanner" for p in positions}

    def capture(self, finger_position: int) -> CapturedImage:
        if self.person is not None:
            self.person.position = finger_position
        return capture_retrying(self.driver, finger_position, ask_retry=self.ask_retry, max_attempts=self.attempts)


def show(message: str) -> None:
    print(f"scanner: {message}", file=sys.stderr, flush=True)


def ask_operator(error: ScannerError) -> bool:
    """At a terminal, show the failure and ask whether to try again (Enter = yes). Without one: no retry (the
    enrollment stops and says why, once)."""
    if not sys.stdin.isatty():
        return False
    show(str(error))
    answer = input("retry? [Y/n] ").strip().lower()
    return answer in ("", "y", "yes")


def params_from_env() -> Uru4000Params:
    timeout = os.environ.get(TIMEOUT_ENV)
    try:
        seconds = float(timeout) if timeout else Uru4000Params.finger_timeout_s
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 300:
        raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds from 0 to 300")
    return dataclasses.replace(Uru4000Params(), finger_timeout_s=seconds)


def _retries() -> int:
    value = os.environ.get(RETRIES_ENV, "5")
    if not value.isdigit() or not 1 <= int(value) <= 20:
        raise ValueError(f"{RETRIES_ENV} must be a whole number from 1 to 20")
    return int(value)


def emulated_device() -> EmulatedUru4000B:
    """The emulated scanner of PAPILLA_SCANNER_EMULATE (a function, so a test can inject faults)."""
    return EmulatedUru4000B()


def device(args, ask_retry: Callable[[ScannerError], bool] | None = None) -> CounterScanner:
    """The scanner `--scanner uru4000` names: the real one over libusb, or the emulated one for training."""
    params, attempts = params_from_env(), _retries()
    ask = ask_retry or ask_operator
    folder = os.environ.get(EMULATE_ENV)
    if not folder:
        return CounterScanner(Uru4000Scanner(params, on_prompt=show), ask, attempts)
    images = _images(folder)
    emulated = emulated_device()
    person = PromptedPerson(emulated, images)

    def prompt(message: str) -> None:
        show(message)
        person(message)

    show(f"emulated U.are.U 4000B ({EMULATE_ENV}): a simulated person places the images of {folder}")
    driver = Uru4000Scanner(params, backend=EmulatedBackend(emulated), on_prompt=prompt)
    return CounterScanner(driver, ask, attempts, positions=tuple(sorted(images)), person=person)


def _images(folder: str) -> dict[int, np.ndarray]:
    """Finger position -> grayscale pixels of the first image in `folder` (ValueError: one sentence)."""
    source = FolderScanner(folder, folder_mapping(folder))
    pixels = {}
    for position in source.mapping:
        with Image.open(source.folder / source.mapping[position]) as img:
            pixels[position] = np.asarray(img.convert("L"), dtype=np.uint8)
    return pixels
