"""The DigitalPersona U.are.U 4000B wire protocol, as publicly documented by libfprint's `uru4000` driver.

Registers are read and written with vendor control request 0x04 (wValue = first register, wIndex = 0);
endpoint 0x81 (interrupt) carries 64-byte messages whose first two bytes, big-endian, are the event type;
endpoint 0x82 (bulk) carries one frame: a 64-byte header then image lines of 384 bytes.  Frames may be
scrambled with a 32-bit LFSR keystream whose key the host obtains through registers 0x33/0x34.
Sources and what is known only from them: docs/scanners.md.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from numba import njit

VENDOR_ID, PRODUCT_ID = 0x05BA, 0x000A
EP_INTR, EP_DATA = 0x81, 0x82
USB_RQ = 0x04
CTRL_IN, CTRL_OUT = 0xC0, 0x40            # vendor request to the device, in / out
IRQ_LENGTH = 64

REG_HWSTAT = 0x07
REG_SCRAMBLE_DATA_INDEX = 0x33
REG_SCRAMBLE_DATA_KEY = 0x34
REG_MODE = 0x4E
REG_DEVICE_INFO = 0xF0

HWSTAT_LOW_POWER = 0x80                  # bit 7: the scanner is (partly) powered down
HWSTAT_FAULT = 0x04                      # bit 2 with bit 7: needs the power "reboot" dance
HWSTAT_REBOOTED = 0x01

MODE_INIT = 0x00
MODE_AWAIT_FINGER_ON = 0x10
MODE_AWAIT_FINGER_OFF = 0x12
MODE_CAPTURE = 0x20
MODE_CAPTURE_AUX = 0x30
MODE_OFF = 0x70
MODE_READY = 0x80

IRQ_SCANPWR_ON = 0x56AA
IRQ_FINGER_ON = 0x0101
IRQ_FINGER_OFF = 0x0200
IRQ_DEATH = 0x0800                       # announces a failing (empty) next scan

IMAGE_WIDTH, IMAGE_HEIGHT = 384, 290
HEADER_LEN = 64
FRAME_LEN = HEADER_LEN + IMAGE_WIDTH * IMAGE_HEIGHT
MAX_BLOCKS = 15
_OFF_NUM_LINES, _OFF_KEY_NUMBER, _OFF_BLOCKS = 4, 6, 16

BLOCK_CHANGE_KEY = 0x80
BLOCK_NO_KEY_UPDATE = 0x04
BLOCK_ENCRYPTED = 0x02
BLOCK_NOT_PRESENT = 0x01

KEYSTREAM_TAPS = 0x9248144D
_XOR_BITS = (4, 8, 11, 14, 18, 21, 24, 29)    # key bits that form the scrambling byte, low bit first
DPI = 512                                     # the 4000B's stated resolution


@dataclass(frozen=True)
class Block:
    flags: int
    lines: int


@dataclass(frozen=True)
class FrameHeader:
    data_lines: int                # image lines actually sent after the header
    key_number: int
    blocks: tuple[Block, ...]      # up to 15; a block of 0 lines ends the list

    @property
    def encrypted(self) -> bool:
        return any(b.flags & BLOCK_ENCRYPTED for b in self.blocks)


def parse_header(frame: bytes) -> FrameHeader:
    """The header of a frame of at least 64 bytes (the caller checks the length)."""
    data_lines, = struct.unpack_from("<H", frame, _OFF_NUM_LINES)
    blocks = []
    for i in range(MAX_BLOCKS):
        flags, lines = frame[_OFF_BLOCKS + 2 * i], frame[_OFF_BLOCKS + 2 * i + 1]
        if lines == 0:
            break
        blocks.append(Block(flags, lines))
    return FrameHeader(data_lines=data_lines, key_number=frame[_OFF_KEY_NUMBER], blocks=tuple(blocks))


def pack_header(header: FrameHeader) -> bytes:
    out = bytearray(HEADER_LEN)
    struct.pack_into("<H", out, _OFF_NUM_LINES, header.data_lines)
    out[_OFF_KEY_NUMBER] = header.key_number
    for i, block in enumerate(header.blocks[:MAX_BLOCKS]):
        out[_OFF_BLOCKS + 2 * i], out[_OFF_BLOCKS + 2 * i + 1] = block.flags, block.lines
    return bytes(out)


@njit(cache=True)
def _next_key(key: np.uint32) -> np.uint32:
    """One LFSR step: the parity of the tapped bits becomes the new top bit."""
    tapped = key & np.uint32(KEYSTREAM_TAPS)
    parity = np.uint32(0)
    while tapped:
        parity ^= tapped & np.uint32(1)
        tapped >>= np.uint32(1)
    return (parity << np.uint32(31)) | (key >> np.uint32(1))


@njit(cache=True)
def _scramble_byte(key: np.uint32) -> np.uint8:
    out = 0
    for i, bit in enumerate(_XOR_BITS):
        out |= ((key >> bit) & 1) << i
    return np.uint8(out)


@njit(cache=True)
def keystream(key: np.uint32, n: int) -> tuple[np.ndarray, np.uint32]:
    """`n` scrambling bytes from `key` and the key after `n` steps."""
    out = np.empty(n, np.uint8)
    for i in range(n):
        out[i] = _scramble_byte(key)
        key = _next_key(key)
    return out, key


def unscramble(data: np.ndarray, key: int) -> tuple[np.ndarray, int]:
    """A scrambled block -> plain bytes and the next key.  Plain byte i is scrambled byte i+1 XOR the i-th
    keystream byte; the last plain byte is not transmitted and comes out 0."""
    stream, after = keystream(np.uint32(key), len(data))
    plain = np.zeros_like(data)
    plain[:-1] = data[1:] ^ stream[:-1]
    return plain, int(after)


def scramble(plain: np.ndarray, key: int, lead: int = 0) -> tuple[np.ndarray, int]:
    """The inverse of `unscramble` (what the scanner does); the last plain byte is lost."""
    stream, after = keystream(np.uint32(key), len(plain))
    data = np.empty_like(plain)
    data[0] = lead
    data[1:] = plain[:-1] ^ stream[:-1]
    return data, int(after)


def skip_key(key: int, n: int) -> int:
    """The key after `n` bytes of a block sent in clear (the keystream still advances)."""
    return int(keystream(np.uint32(key), n)[1])
