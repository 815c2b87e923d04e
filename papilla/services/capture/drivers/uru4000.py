"""pyusb driver for the DigitalPersona U.are.U 4000B (USB 05ba:000a), a `Scanner` for the station.

One capture: (after the previous one) wait until the finger is lifted, arm the finger detector, wait
for the finger-on interrupt, switch to capture mode, read one frame from the bulk endpoint, unscramble
it if needed, check it is a fingerprint and not an empty or blank frame, and return it as PNG at
512 dpi.  Everything that goes wrong is a `ScannerError` with one sentence for the operator; after an
unplug or timeout the next `capture` starts again from finding the scanner, so "retry" is simply
calling `capture` again (`devices.capture_retrying`).  Protocol: `uru4000_protocol`, docs/scanners.md.
"""
from __future__ import annotations

import errno
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import usb.core
import usb.util

from ..devices import (CapturedImage, EmptyFrame, FingerNotLifted, ScannerError, ScannerNotFound,
                       ScannerTimeout, ScannerUnplugged, captured_from_pixels, check_position)
from . import uru4000_protocol as p

FINGER_NAMES = {1: "right thumb", 2: "right index finger", 3: "right middle finger", 4: "right ring finger",
                5: "right little finger", 6: "left thumb", 7: "left index finger", 8: "left middle finger",
                9: "left ring finger", 10: "left little finger"}
LIBUSB_ERROR_NO_DEVICE = -4


@dataclass(frozen=True)
class Uru4000Params:
    """Timing and acceptance of one capture (defaults suit a branch counter)."""

    finger_timeout_s: float = 15.0      # how long the person has to put the finger on the glass
    lift_timeout_s: float = 10.0        # how long to wait for the previous finger to be lifted
    frame_timeout_ms: int = 5000        # bulk transfer of one frame (libfprint uses 5 s)
    control_timeout_ms: int = 5000      # register reads and writes
    poll_ms: int = 250                  # interrupt wait slice, so a wait is never longer than asked
    powerup_tries: int = 100            # HWSTAT writes before giving up (libfprint: 100, 10 ms apart)
    powerup_pause_s: float = 0.01
    scanpwr_wait_ms: int = 300          # wait for the power-on interrupt; the whole init is tried 3 times
    init_attempts: int = 3
    min_contrast: float = 8.0           # pixel standard deviation below which a frame is blank


@dataclass(frozen=True)
class ScannerInfo:
    model: str
    bus: int | None
    address: int | None

    def __str__(self) -> str:
        return f"{self.model} (USB {p.VENDOR_ID:04x}:{p.PRODUCT_ID:04x}, bus {self.bus} address {self.address})"


MODEL = "DigitalPersona U.are.U 4000B"


def find_scanners(backend=None) -> list[ScannerInfo]:
    """The 4000B scanners on the USB bus (`backend` None: pyusb's default, libusb)."""
    try:
        found = usb.core.find(find_all=True, idVendor=p.VENDOR_ID, idProduct=p.PRODUCT_ID, backend=backend)
        return [ScannerInfo(MODEL, d.bus, d.address) for d in found]
    except usb.core.NoBackendError:
        raise ScannerNotFound("no USB library (libusb-1.0) is installed on this station, so no scanner "
                              "can be reached; install it (apt-get install libusb-1.0-0)") from None


def decode_frame(frame: bytes, key_for: Callable[[int], int] | None = None) -> np.ndarray:
    """One bulk frame -> 290x384 grayscale with dark ridges.  `key_for(key_number)` gives the scrambling
    key of a scrambled frame.  Raises EmptyFrame for a frame that is empty or shorter than its header says."""
    if len(frame) < p.HEADER_LEN:
        raise EmptyFrame("the scanner sent an empty image; ask the person to press the finger flat "
                         "on the glass and retry")
    header = p.parse_header(frame)
    if not 0 < header.data_lines <= p.IMAGE_HEIGHT or len(frame) < p.HEADER_LEN + header.data_lines * p.IMAGE_WIDTH:
        raise EmptyFrame("the scanner sent an incomplete image; keep the finger still until the "
                         "scanner has finished and retry")
    data = np.frombuffer(frame, np.uint8, header.data_lines * p.IMAGE_WIDTH, p.HEADER_LEN).copy()
    key = key_for(header.key_number) if header.encrypted and key_for else None
    rows, sent = [], 0
    for block in header.blocks:
        n = block.lines * p.IMAGE_WIDTH
        if block.flags & p.BLOCK_NOT_PRESENT:          # not sent: the next lines stand in (as libfprint does)
            rows.append(_lines(data, sent, block.lines))
            continue
        chunk = data[sent * p.IMAGE_WIDTH: sent * p.IMAGE_WIDTH + n]
        if key is not None and block.flags & p.BLOCK_ENCRYPTED:
            chunk, key = p.unscramble(chunk, key)
        elif key is not None and not block.flags & p.BLOCK_NO_KEY_UPDATE:
            key = p.skip_key(key, n)
        rows.append(chunk.reshape(-1, p.IMAGE_WIDTH))
        sent += block.lines
    raw = np.concatenate(rows)[: p.IMAGE_HEIGHT] if rows else data.reshape(-1, p.IMAGE_WIDTH)
    if raw.shape[0] < p.IMAGE_HEIGHT:
        raw = np.vstack([raw, np.zeros((p.IMAGE_HEIGHT - raw.shape[0], p.IMAGE_WIDTH), np.uint8)])
    return np.ascontiguousarray((255 - raw)[::-1, ::-1])     # the 4000B sends ridges bright, turned 180°


def _lines(data: np.ndarray, start: int, count: int) -> np.ndarray:
    rows = data.reshape(-1, p.IMAGE_WIDTH)
    idx = np.clip(np.arange(start, start + count), 0, max(rows.shape[0] - 1, 0))
    return rows[idx] if rows.shape[0] else np.zeros((count, p.IMAGE_WIDTH), np.uint8)


class Uru4000Scanner:
    """The station's `Scanner` for one U.are.U 4000B.  `on_prompt` receives what to tell the person
    ("place the right thumb on the scanner", "lift the finger"); `backend` is pyusb's (None: libusb)."""

    def __init__(self, params: Uru4000Params = Uru4000Params(), *, backend=None,
                 on_prompt: Callable[[str], None] = lambda message: None):
        self.params = params
        self.backend = backend
        self.on_prompt = on_prompt
        self._dev = None
        self._finger_may_be_on = False

    # -- the Scanner interface ---------------------------------------------------------------------
    def capture(self, finger_position: int) -> CapturedImage:
        check_position(finger_position)
        with self._usb_errors():
            dev = self._device()
            if self._finger_may_be_on:
                self._await_lift(dev)
            self._await_finger(dev, finger_position)
            self._write(dev, p.REG_MODE, bytes([p.MODE_CAPTURE]))
            frame = self._read_frame(dev)
            self._finger_may_be_on = True
            self._write(dev, p.REG_MODE, bytes([p.MODE_AWAIT_FINGER_OFF]))
        pixels = decode_frame(frame, lambda number: self._frame_key(dev, number))
        if float(pixels.std()) < self.params.min_contrast:
            raise EmptyFrame("the scanner saw no fingerprint; clean the glass, press the finger flat and retry")
        return captured_from_pixels(finger_position, pixels, p.DPI)

    def close(self) -> None:
        if self._dev is not None:
            try:
                self._write(self._dev, p.REG_MODE, bytes([p.MODE_OFF]))
            except (usb.core.USBError, ScannerError):
                pass
            usb.util.dispose_resources(self._dev)
            self._dev = None

    # -- steps ---------------------------------------------------------------------------------------
    def _device(self):
        if self._dev is not None:
            return self._dev
        dev = usb.core.find(idVendor=p.VENDOR_ID, idProduct=p.PRODUCT_ID, backend=self.backend)
        if dev is None:
            raise ScannerNotFound(f"no {MODEL} scanner is connected (USB {p.VENDOR_ID:04x}:{p.PRODUCT_ID:04x}); "
                                  "plug it in and retry")
        dev.set_configuration()
        usb.util.claim_interface(dev, 0)
        for attempt in range(self.params.init_attempts):
            if self._power_up(dev):
                self._dev, self._finger_may_be_on = dev, False
                return dev
        usb.util.dispose_resources(dev)
        raise ScannerError("the scanner did not power up; unplug it, plug it in again and retry")

    def _power_up(self, dev) -> bool:
        """libfprint's init: fix a confused power state, power down, power up, await the 0x56aa interrupt."""
        hwstat = self._read(dev, p.REG_HWSTAT, 1)[0]
        if hwstat & (p.HWSTAT_LOW_POWER | p.HWSTAT_FAULT) == p.HWSTAT_LOW_POWER | p.HWSTAT_FAULT:
            self._write(dev, p.REG_HWSTAT, bytes([hwstat & 0x0F]))
            hwstat = self._poll_hwstat(dev, lambda v: v & p.HWSTAT_REBOOTED)
        if not hwstat & p.HWSTAT_LOW_POWER:
            self._write(dev, p.REG_HWSTAT, bytes([hwstat | p.HWSTAT_LOW_POWER]))
        for _ in range(self.params.powerup_tries):
            self._write(dev, p.REG_HWSTAT, bytes([hwstat & 0x0F]))
            if not self._read(dev, p.REG_HWSTAT, 1)[0] & p.HWSTAT_LOW_POWER:
                break
            time.sleep(self.params.powerup_pause_s)
        else:
            return False
        return self._await_irq(dev, {p.IRQ_SCANPWR_ON}, self.params.scanpwr_wait_ms / 1000) is not None

    def _poll_hwstat(self, dev, done: Callable[[int], int]) -> int:
        for _ in range(self.params.powerup_tries):
            value = self._read(dev, p.REG_HWSTAT, 1)[0]
            if done(value):
                return value
            time.sleep(self.params.powerup_pause_s)
        raise ScannerError("the scanner is in a fault state; unplug it, plug it in again and retry")

    def _await_lift(self, dev) -> None:
        self._write(dev, p.REG_MODE, bytes([p.MODE_AWAIT_FINGER_OFF]))
        if self._await_irq(dev, {p.IRQ_FINGER_OFF}, 0.05) is None:
            self.on_prompt("lift the finger from the scanner")
            if self._await_irq(dev, {p.IRQ_FINGER_OFF}, self.params.lift_timeout_s) is None:
                raise FingerNotLifted(f"the finger stayed on the scanner for {self.params.lift_timeout_s:g} s "
                                      "after the last capture; ask the person to lift it and retry")
        self._finger_may_be_on = False

    def _await_finger(self, dev, position: int) -> None:
        self._write(dev, p.REG_MODE, bytes([p.MODE_AWAIT_FINGER_ON]))
        self.on_prompt(f"place the {FINGER_NAMES[position]} on the scanner")
        if self._await_irq(dev, {p.IRQ_FINGER_ON}, self.params.finger_timeout_s) is None:
            raise ScannerTimeout(f"no finger was placed on the scanner within {self.params.finger_timeout_s:g} s; "
                                 f"ask the person to place the {FINGER_NAMES[position]} and retry")

    def _await_irq(self, dev, wanted: set[int], seconds: float) -> int | None:
        """The first wanted interrupt within `seconds`, others (e.g. 0x0800) skipped; None on timeout."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            slice_ms = max(1, int(min(left * 1000, self.params.poll_ms)))
            try:
                message = dev.read(p.EP_INTR, p.IRQ_LENGTH, timeout=slice_ms)
            except usb.core.USBTimeoutError:
                continue
            kind = int.from_bytes(bytes(message[:2]), "big")
            if kind in wanted:
                return kind
        return None

    def _read_frame(self, dev) -> bytes:
        try:
            return bytes(dev.read(p.EP_DATA, p.FRAME_LEN, timeout=self.params.frame_timeout_ms))
        except usb.core.USBTimeoutError:
            raise ScannerTimeout("the scanner did not send the image in time; ask the person to press "
                                 "the finger again and retry") from None

    def _frame_key(self, dev, key_number: int) -> int:
        """Ask the scanner for the key of a scrambled frame: write the key number and a fresh 32-bit seed
        to 0x33, read the seeded key from 0x34, remove the seed."""
        seed = secrets.randbits(32)
        with self._usb_errors():
            self._write(dev, p.REG_SCRAMBLE_DATA_INDEX, bytes([key_number]) + seed.to_bytes(4, "little"))
            seeded = int.from_bytes(bytes(self._read(dev, p.REG_SCRAMBLE_DATA_KEY, 4)), "little")
        return seeded ^ seed

    def _read(self, dev, reg: int, length: int):
        return dev.ctrl_transfer(p.CTRL_IN, p.USB_RQ, reg, 0, length, timeout=self.params.control_timeout_ms)

    def _write(self, dev, reg: int, data: bytes) -> None:
        dev.ctrl_transfer(p.CTRL_OUT, p.USB_RQ, reg, 0, data, timeout=self.params.control_timeout_ms)

    @contextmanager
    def _usb_errors(self) -> Iterator[None]:
        """USB failures as operator messages; after any of them the scanner is found and set up again.
        A person's timeout (no finger, finger not lifted) keeps the scanner as it is."""
        try:
            yield
        except usb.core.USBTimeoutError:
            self._forget()
            raise ScannerTimeout("the scanner stopped answering; retry, and if it happens again unplug "
                                 "and plug it in") from None
        except usb.core.USBError as exc:
            self._forget()
            if exc.errno == errno.ENODEV or exc.backend_error_code == LIBUSB_ERROR_NO_DEVICE:
                raise ScannerUnplugged("the scanner was disconnected; plug it in again and retry") from None
            raise ScannerError(f"the scanner reported a USB error ({exc.strerror}); unplug it, plug it in "
                               "again and retry") from None
        except usb.core.NoBackendError:
            raise ScannerNotFound("no USB library (libusb-1.0) is installed on this station; install it "
                                  "(apt-get install libusb-1.0-0)") from None

    def _forget(self) -> None:
        if self._dev is not None:
            usb.util.dispose_resources(self._dev)
        self._dev = None
