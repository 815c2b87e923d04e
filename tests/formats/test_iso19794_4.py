"""ISO/IEC 19794-4:2011 finger image records: written and read back; resolution in px/cm read as ppi; every
malformed header named."""
from __future__ import annotations

import struct

import pytest

from papilla.shared.formats.iso19794_4 import FingerImage, Iso19794_4Error, read_record, write_record


def _image(**changes) -> FingerImage:
    fields = dict(position=7, ppi=500, compression="wsq", width=320, height=400, data=b"\xff\xa0image", quality=64)
    fields.update(changes)
    return FingerImage(**fields)


def test_round_trip():
    for image in (_image(), _image(compression="jpeg2000", quality=None, position=1, ppi=1000)):
        (back,) = read_record(write_record(image))
        assert back == image


def test_resolution_in_pixels_per_centimetre():
    data = bytearray(write_record(_image()))
    # scale units (1 inch -> 2 cm) and the image sampling rate: 197 px/cm is 500 ppi
    at = 16 + 4 + 9 + 5 + 1 + 5
    data[at + 2] = 2
    struct.pack_into(">HHHH", data, at + 3, 197, 197, 197, 197)
    assert read_record(bytes(data))[0].ppi == 500


@pytest.mark.parametrize("mutate, message", [
    (lambda d: b"FMR\x00" + d[4:], "format identifier"),
    (lambda d: d[:4] + b"010\x00" + d[8:], "version"),
    (lambda d: d[:-2], "record length"),
    (lambda d: d[:10], "shorter than its general header"),
])
def test_malformed_records_are_named(mutate, message):
    with pytest.raises(Iso19794_4Error, match=message):
        read_record(mutate(write_record(_image())))


def test_an_unknown_compression_is_named():
    data = bytearray(write_record(_image()))
    data[16 + 4 + 9 + 5 + 1 + 5 + 12] = 9          # image compression algorithm
    with pytest.raises(Iso19794_4Error, match="compression code 9"):
        read_record(bytes(data))
