"""NIST's own published ANSI/NIST-ITL sample, not one Papilla wrote: it imports, survives Papilla's writer, and a
station given it refuses each finger by name instead of failing.

`tests/fixtures/nist/pass-type-1-mandatory-only.an2` is the BioCTS conformance sample of that name (NIST,
"BioCTS for AN-2011" sample data, archive biocts_ansi_nist_itl_2.0.6107.19926_sample_data_1.zip,
AN2011_SampleData/Traditional Encoding/). Only the text of this one sample could be obtained here (transcribed from a
third-party codec's test that quotes it byte for byte; its two LEN fields, 112 and 17, check the transcription). The archive's image-bearing samples
(Type-4/9/14) are binary and could not be brought into this project: see docs/interop.md.
"""
from __future__ import annotations

from pathlib import Path

import nistitl
import pytest

from papilla.services.capture.ansi_nist_scanner import AnsiNistScanner
from papilla.services.capture.devices import NoImageForFinger
from papilla.shared.formats.ansi_nist import read_transaction
from papilla.shared.formats.ansi_nist_write import write_transaction

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "nist" / "pass-type-1-mandatory-only.an2"


def _declared_lengths(data: bytes) -> list[tuple[int, int]]:
    """(LEN field, actual bytes) of each record of a traditional-encoding transaction."""
    out, offset = [], 0
    while offset < len(data):
        tag, rest = data[offset:].split(b":", 1)
        declared = int(rest.split(b"\x1d", 1)[0])
        out.append((declared, len(data[offset:offset + declared])))
        assert data[offset + declared - 1] == 0x1C, f"record {tag!r} does not end with FS at its LEN"
        offset += declared
    return out


def test_the_fixture_is_the_published_sample_byte_for_byte():
    data = SAMPLE.read_bytes()
    assert _declared_lengths(data) == [(112, 112), (17, 17)]


def test_the_nist_sample_imports_with_every_type1_field():
    transaction = read_transaction(SAMPLE.read_bytes())
    assert (transaction.tot, transaction.tcn, transaction.date) == ("A", "TCN", "20120726")
    assert (transaction.dai, transaction.ori) == ("DAI", "ORI")
    assert transaction.fingers == () and transaction.descriptive == {}


def test_the_nist_sample_survives_papillas_writer():
    transaction = read_transaction(SAMPLE.read_bytes())
    written = write_transaction(transaction)
    again = read_transaction(written)
    assert again == transaction
    parsed = nistitl.Message()
    parsed.parse(written)                       # what another reader sees: a valid 2-record transaction
    assert [record.type for record in parsed] == [1, 2]
    assert [declared == actual for declared, actual in _declared_lengths(written)] == [True, True]


def test_a_station_given_the_sample_refuses_each_finger_by_name():
    scanner = AnsiNistScanner(SAMPLE)
    assert scanner.mapping == {} and scanner.exceptions == {}
    with pytest.raises(NoImageForFinger, match="finger position 2"):
        scanner.capture(2)
