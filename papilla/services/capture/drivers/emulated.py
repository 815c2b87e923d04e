"""An emulated U.are.U 4000B behind a custom pyusb backend, for tests and demos without the hardware.

`EmulatedBackend` implements pyusb's `usb.backend.IBackend`: `usb.core.find(backend=...)` enumerates
the emulated devices with the 4000B's descriptors (05ba:000a, one vendor-class interface with interrupt
endpoint 0x81 and bulk endpoint 0x82), and the driver talks to them through ordinary pyusb calls.
`EmulatedUru4000B` answers the register requests (HWSTAT power-up, MODE, the scrambling-key
registers), raises finger-on/off interrupts as a test places and lifts a finger, and delivers a frame
built from the finger's image (inverted and turned 180 degrees as the 4000B sends it, optionally
scrambled).  `faults` injects what goes wrong in the field: an empty or truncated frame, a frame that
never comes, a lost power-up interrupt, an unplug during capture.
"""
from __future__ import annotations

import array
import errno
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import usb.backend
import usb.core

from . import uru4000_protocol as p

LIBUSB_ERROR_NO_DEVICE = -4
LIBUSB_ERROR_TIMEOUT = -7
FAULTS = ("empty_frame", "truncated_frame", "blank_frame", "no_frame", "no_scanpwr_irq", "unplug_on_capture")


@dataclass
class _Desc:
    """A descriptor: pyusb copies the named fields off it."""

    fields: dict

    def __getattr__(self, name):
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None


def _device_descriptor(bus: int, address: int) -> _Desc:
    return _Desc(dict(bLength=18, bDescriptorType=1, bcdUSB=0x0110, bDeviceClass=0, bDeviceSubClass=0,
                      bDeviceProtocol=0, bMaxPacketSize0=8, idVendor=p.VENDOR_ID, idProduct=p.PRODUCT_ID,
                      bcdDevice=0x0104, iManufacturer=1, iProduct=2, iSerialNumber=0, bNumConfigurations=1,
                      address=address, bus=bus, port_number=1, port_numbers=(1,), speed=2))


_CONFIG = _Desc(dict(bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1, bConfigurationValue=1,
                     iConfiguration=0, bmAttributes=0xA0, bMaxPower=50, extra_descriptors=[]))
_INTERFACE = _Desc(dict(bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0, bNumEndpoints=2,
                        bInterfaceClass=0xFF, bInterfaceSubClass=0xFF, bInterfaceProtocol=0xFF, iInterface=0,
                        extra_descriptors=[]))
_ENDPOINTS = (
    _Desc(dict(bLength=7, bDescriptorType=5, bEndpointAddress=p.EP_INTR, bmAttributes=0x03, wMaxPacketSize=64,
               bInterval=5, bRefresh=0, bSynchAddress=0, extra_descriptors=[])),
    _Desc(dict(bLength=7, bDescriptorType=5, bEndpointAddress=p.EP_DATA, bmAttributes=0x02, wMaxPacketSize=64,
               bInterval=0, bRefresh=0, bSynchAddress=0, extra_descriptors=[])),
)


def sensor_frame(pixels: np.ndarray) -> np.ndarray:
    """A grayscale image (dark ridges, any size) as the 4000B's sensor sees it: 290x384, centred and cropped
    or padded with background, brightness inverted, turned 180 degrees."""
    canvas = np.full((p.IMAGE_HEIGHT, p.IMAGE_WIDTH), 255, np.uint8)
    h, w = min(pixels.shape[0], p.IMAGE_HEIGHT), min(pixels.shape[1], p.IMAGE_WIDTH)
    sy, sx = (pixels.shape[0] - h) // 2, (pixels.shape[1] - w) // 2
    dy, dx = (p.IMAGE_HEIGHT - h) // 2, (p.IMAGE_WIDTH - w) // 2
    canvas[dy:dy + h, dx:dx + w] = pixels[sy:sy + h, sx:sx + w]
    return np.ascontiguousarray((255 - canvas)[::-1, ::-1])


@dataclass
class EmulatedUru4000B:
    """One emulated scanner.  `place_finger(pixels)` / `lift_finger()` act as the person; `faults` is a
    queue of `FAULTS` names, each used once at the point where it applies."""

    encrypt: bool = False
    hwstat: int = 0x84 | 0x01            # just plugged: low power, as libfprint finds it after a reboot
    secret_keys: tuple[int, ...] = (0x5EED1234, 0x0BADCAFE)
    faults: deque = field(default_factory=deque)
    frames_sent: int = 0

    def __post_init__(self):
        self.plugged = True
        self.generation = 0
        self.mode = p.MODE_INIT
        self.finger: np.ndarray | None = None
        self._irqs: deque[int] = deque()
        self._frame: bytes | None = None
        self._scramble_index = bytes(5)
        self._cond = threading.Condition()

    # -- the person and the cable --------------------------------------------------------------------
    def place_finger(self, pixels: np.ndarray) -> None:
        with self._cond:
            self.finger = np.asarray(pixels, np.uint8)
            if self.mode == p.MODE_AWAIT_FINGER_ON:
                self._raise_irq(p.IRQ_FINGER_ON)

    def lift_finger(self) -> None:
        with self._cond:
            self.finger = None
            if self.mode == p.MODE_AWAIT_FINGER_OFF:
                self._raise_irq(p.IRQ_FINGER_OFF)

    def unplug(self) -> None:
        with self._cond:
            self.plugged = False
            self._cond.notify_all()

    def plug(self) -> None:
        with self._cond:
            self.plugged, self.generation = True, self.generation + 1
            self.hwstat, self.mode, self._frame = 0x84 | 0x01, p.MODE_INIT, None
            self._irqs.clear()

    def wait_for_mode(self, mode: int, timeout: float = 10.0) -> bool:
        """Wait until the driver has put the scanner in `mode` (a test acting at the right moment)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.mode == mode, timeout)

    # -- the firmware ------------------------------------------------------------------------------
    def _raise_irq(self, kind: int) -> None:
        self._irqs.append(kind)
        self._cond.notify_all()

    def _fault(self, name: str) -> bool:
        if name in self.faults:
            self.faults.remove(name)
            return True
        return False

    def write_regs(self, reg: int, data: bytes) -> None:
        with self._cond:
            if reg == p.REG_HWSTAT:
                self._write_hwstat(data[0])
            elif reg == p.REG_MODE:
                self._write_mode(data[0])
            elif reg == p.REG_SCRAMBLE_DATA_INDEX:
                self._scramble_index = bytes(data[:5])
            self._cond.notify_all()

    def read_regs(self, reg: int, length: int) -> bytes:
        with self._cond:
            if reg == p.REG_HWSTAT:
                return bytes([self.hwstat])
            if reg == p.REG_MODE:
                return bytes([self.mode])
            if reg == p.REG_SCRAMBLE_DATA_KEY:
                number, seed = self._scramble_index[0], int.from_bytes(self._scramble_index[1:5], "little")
                key = self.secret_keys[number % len(self.secret_keys)] ^ seed
                return key.to_bytes(4, "little")[:length]
            if reg == p.REG_DEVICE_INFO:
                return bytes(range(length))
            return bytes(length)

    def _write_hwstat(self, value: int) -> None:
        if value & p.HWSTAT_LOW_POWER:
            self.hwstat = value
        elif self.hwstat & p.HWSTAT_LOW_POWER:
            self.hwstat = (value & 0x0B) | p.HWSTAT_REBOOTED        # powered up, fault bit cleared
            if not self._fault("no_scanpwr_irq"):
                self._raise_irq(p.IRQ_SCANPWR_ON)
        else:
            self.hwstat = value | p.HWSTAT_REBOOTED

    def _write_mode(self, mode: int) -> None:
        self.mode = mode
        if mode == p.MODE_AWAIT_FINGER_ON and self.finger is not None:
            self._raise_irq(p.IRQ_FINGER_ON)
        elif mode == p.MODE_AWAIT_FINGER_OFF and self.finger is None:
            self._raise_irq(p.IRQ_FINGER_OFF)
        elif mode == p.MODE_CAPTURE:
            if self._fault("unplug_on_capture"):
                self.plugged = False
            elif not self._fault("no_frame"):
                self._frame = self._build_frame()

    def _build_frame(self) -> bytes:
        if self._fault("empty_frame"):
            return b""
        blank = self.finger is None or self._fault("blank_frame")
        raw = sensor_frame(np.full((1, 1), 255, np.uint8) if blank else self.finger)
        # 289 lines sent, the last row marked not present (libfprint rejects a frame of 290 sent lines)
        flags = p.BLOCK_ENCRYPTED if self.encrypt else 0
        blocks = (p.Block(flags, 145), p.Block(flags, 144), p.Block(p.BLOCK_NOT_PRESENT, 1))
        lines = raw[:289].reshape(-1).copy()
        key_number = self.frames_sent % len(self.secret_keys)
        if self.encrypt:
            key, start = self.secret_keys[key_number], 0
            for block in blocks[:2]:
                n = block.lines * p.IMAGE_WIDTH
                lines[start:start + n], key = p.scramble(lines[start:start + n], key, lead=start & 0xFF)
                start += n
        header = p.pack_header(p.FrameHeader(data_lines=289, key_number=key_number, blocks=blocks))
        frame = header + lines.tobytes()
        return frame[: len(frame) // 3] if self._fault("truncated_frame") else frame

    def next_irq(self, timeout_ms: int) -> int | None:
        with self._cond:
            self._cond.wait_for(lambda: self._irqs or not self.plugged, timeout_ms / 1000)
            return self._irqs.popleft() if self._irqs and self.plugged else None

    def take_frame(self, timeout_ms: int) -> bytes | None:
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or not self.plugged, timeout_ms / 1000)
            frame, self._frame = self._frame, None
            if frame is not None:
                self.frames_sent += 1
            return frame if self.plugged else None


@dataclass
class _Handle:
    device: EmulatedUru4000B
    generation: int


class EmulatedBackend(usb.backend.IBackend):
    """pyusb backend whose bus holds the given emulated scanners."""

    def __init__(self, *devices: EmulatedUru4000B):
        super().__init__()
        self.devices = list(devices)

    def _alive(self, handle: _Handle) -> EmulatedUru4000B:
        dev = handle.device
        if not dev.plugged or dev.generation != handle.generation:
            raise usb.core.USBError("No such device (it may have been disconnected)",
                                    LIBUSB_ERROR_NO_DEVICE, errno.ENODEV)
        return dev

    def enumerate_devices(self):
        return iter([d for d in self.devices if d.plugged])

    def get_device_descriptor(self, dev):
        index = self.devices.index(dev)
        return _device_descriptor(bus=1, address=2 + index + 10 * dev.generation)

    def get_configuration_descriptor(self, dev, config):
        return _CONFIG

    def get_interface_descriptor(self, dev, intf, alt, config):
        return _INTERFACE

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        return _ENDPOINTS[ep]

    def open_device(self, dev):
        handle = _Handle(dev, dev.generation)
        self._alive(handle)
        return handle

    def close_device(self, dev_handle):
        pass

    def set_configuration(self, dev_handle, config_value):
        self._alive(dev_handle)

    def get_configuration(self, dev_handle):
        self._alive(dev_handle)
        return 1

    def claim_interface(self, dev_handle, intf):
        self._alive(dev_handle)

    def release_interface(self, dev_handle, intf):
        pass

    def clear_halt(self, dev_handle, ep):
        self._alive(dev_handle)

    def is_kernel_driver_active(self, dev_handle, intf):
        return False

    def ctrl_transfer(self, dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout):
        dev = self._alive(dev_handle)
        if bRequest != p.USB_RQ or bmRequestType & 0x60 != 0x40:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)      # the 4000B stalls what it doesn't know
        if bmRequestType & 0x80:
            answer = dev.read_regs(wValue, len(data))
            data[: len(answer)] = array.array("B", answer)
            return len(answer)
        dev.write_regs(wValue, bytes(data))
        return len(data)

    def intr_read(self, dev_handle, ep, intf, buff, timeout):
        dev = self._alive(dev_handle)
        kind = dev.next_irq(timeout or 1000)
        self._alive(dev_handle)
        if kind is None:
            raise usb.core.USBTimeoutError("Operation timed out", LIBUSB_ERROR_TIMEOUT, errno.ETIMEDOUT)
        message = kind.to_bytes(2, "big") + bytes(p.IRQ_LENGTH - 2)
        n = min(len(buff), len(message))
        buff[:n] = array.array("B", message[:n])
        return n

    def bulk_read(self, dev_handle, ep, intf, buff, timeout):
        dev = self._alive(dev_handle)
        frame = dev.take_frame(timeout or 5000)
        self._alive(dev_handle)
        if frame is None:
            raise usb.core.USBTimeoutError("Operation timed out", LIBUSB_ERROR_TIMEOUT, errno.ETIMEDOUT)
        n = min(len(buff), len(frame))
        buff[:n] = array.array("B", frame[:n])
        return n


