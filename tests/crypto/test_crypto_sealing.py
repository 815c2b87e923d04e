from __future__ import annotations

import os
import stat
from datetime import datetime, timezone

import pytest

from papilla.shared.crypto.errors import KeyFileError
from papilla.shared.crypto.registry import SenderRegistry
from papilla.shared.crypto.sealing import (BadSignature, DecryptionFailed, MalformedPacket, RevokedSender,
                                           SealError, UnknownSender, generate_centre_key, generate_signing_key,
                                           load_centre_private_key, load_centre_public_key, load_signing_key,
                                           load_verify_key, open_sealed, peek_header, save_private_key,
                                           save_public_key, seal)

PAYLOAD = b"MINUTIAE-SECRET-PAYLOAD-" * 3 + bytes(range(40))
WHEN = datetime(2026, 3, 14, 9, 26, 53, 589000, tzinfo=timezone.utc)


@pytest.fixture
def parties(store):
    registry = SenderRegistry(store)
    station = generate_signing_key()
    registry.register("station-ast-07", "station", station.public_key())
    centre = generate_centre_key()
    return registry, station, centre


def _seal(station, centre, payload=PAYLOAD, sender_id="station-ast-07", packet_id="pkt-0001"):
    return seal(payload, sender_id=sender_id, packet_id=packet_id, signing_key=station,
                centre_public=centre.public_key(), created_at=WHEN)


def test_round_trip(parties):
    registry, station, centre = parties
    sealed = _seal(station, centre)
    assert PAYLOAD not in sealed and PAYLOAD[:16] not in sealed
    opened = open_sealed(sealed, senders=registry, centre_private=centre)
    assert (opened.sender_id, opened.packet_id, opened.created_at, opened.payload) == \
        ("station-ast-07", "pkt-0001", WHEN, PAYLOAD)
    assert PAYLOAD.decode("latin-1")[:10] not in repr(opened)
    header = peek_header(sealed)
    assert (header.version, header.sender_id, header.packet_id, header.created_at) == \
        (1, "station-ast-07", "pkt-0001", WHEN)
    empty = open_sealed(_seal(station, centre, payload=b""), senders=registry, centre_private=centre)
    assert empty.payload == b""


def test_fresh_ephemeral_and_nonce_each_time(parties):
    _, station, centre = parties
    a, b = peek_header(_seal(station, centre)), peek_header(_seal(station, centre))
    assert a.ephemeral_public != b.ephemeral_public and a.nonce != b.nonce


def test_every_tampered_byte_is_refused(parties, assert_clean):
    registry, station, centre = parties
    sealed = _seal(station, centre)
    sid = b"station-ast-07"
    sid_start = sealed.index(sid)
    sid_span = range(sid_start - 1, sid_start + len(sid))  # length byte + id
    codes = {}
    for pos in range(len(sealed)):
        for flip in (0x01, 0x80):
            bad = bytearray(sealed)
            bad[pos] ^= flip
            with pytest.raises(SealError) as info:
                open_sealed(bytes(bad), senders=registry, centre_private=centre)
            code = info.value.code
            allowed = {"bad_signature", "malformed"} | ({"unknown_sender"} if pos in sid_span else set())
            assert code in allowed, f"byte {pos}: {code}"
            codes[code] = codes.get(code, 0) + 1
            assert_clean(info.value, PAYLOAD, PAYLOAD[:12])
    assert codes.get("bad_signature", 0) > len(sealed)  # most flips reach signature verification


@pytest.mark.parametrize("cut", [0, 1, 4, 5, 20, 60, -65, -64, -1])
def test_truncated_or_extended_is_malformed(parties, cut):
    registry, station, centre = parties
    sealed = _seal(station, centre)
    with pytest.raises(MalformedPacket) as info:
        open_sealed(sealed[:cut], senders=registry, centre_private=centre)
    assert info.value.code == "malformed"
    with pytest.raises(MalformedPacket):
        peek_header(sealed[:cut])
    with pytest.raises(MalformedPacket):
        open_sealed(sealed + b"\0", senders=registry, centre_private=centre)


def test_not_bytes_is_malformed(parties):
    registry, _, centre = parties
    with pytest.raises(MalformedPacket):
        open_sealed("text", senders=registry, centre_private=centre)


def test_unknown_sender(parties, assert_clean):
    registry, _, centre = parties
    stranger = generate_signing_key()
    sealed = _seal(stranger, centre, sender_id="station-rogue")
    with pytest.raises(UnknownSender) as info:
        open_sealed(sealed, senders=registry, centre_private=centre)
    assert info.value.code == "unknown_sender"
    assert (info.value.sender_id, info.value.packet_id) == ("station-rogue", "pkt-0001")
    assert_clean(info.value, PAYLOAD)


def test_registered_id_signed_by_another_key(parties):
    registry, _, centre = parties
    impostor = generate_signing_key()
    with pytest.raises(BadSignature) as info:
        open_sealed(_seal(impostor, centre), senders=registry, centre_private=centre)
    assert info.value.code == "bad_signature"


def test_revoked_sender(parties, assert_clean):
    registry, station, centre = parties
    sealed = _seal(station, centre)
    registry.revoke("station-ast-07", "compromised")
    with pytest.raises(RevokedSender) as info:
        open_sealed(sealed, senders=registry, centre_private=centre)
    assert info.value.code == "revoked_sender"
    assert_clean(info.value, PAYLOAD)


def test_wrong_centre_key(parties, assert_clean):
    registry, station, centre = parties
    sealed = _seal(station, centre)
    with pytest.raises(DecryptionFailed) as info:
        open_sealed(sealed, senders=registry, centre_private=generate_centre_key())
    assert info.value.code == "decryption_failed"
    assert_clean(info.value, PAYLOAD)


def test_seal_argument_checks(parties):
    _, station, centre = parties
    with pytest.raises(ValueError):
        _seal(station, centre, sender_id="bad id")
    with pytest.raises(ValueError):
        _seal(station, centre, packet_id="")
    with pytest.raises(TypeError):
        seal("text", sender_id="s", packet_id="p", signing_key=station, centre_public=centre.public_key())
    with pytest.raises(TypeError):
        seal(b"x", sender_id="s", packet_id="p", signing_key=centre, centre_public=centre.public_key())
    with pytest.raises(ValueError):
        seal(b"x", sender_id="s", packet_id="p", signing_key=station, centre_public=centre.public_key(),
             created_at=datetime(2026, 1, 1))


def test_key_files(tmp_path, parties):
    registry, _, _ = parties
    station, centre = generate_signing_key(), generate_centre_key()
    d = tmp_path / "k"
    save_private_key(station, d / "station.pem")
    save_public_key(station.public_key(), d / "station.pub.pem")
    save_private_key(centre, d / "centre.pem", password=b"pw")
    save_public_key(centre.public_key(), d / "centre.pub.pem")
    assert stat.S_IMODE(os.stat(d / "station.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "centre.pem").st_mode) == 0o600
    assert b"ENCRYPTED" in (d / "centre.pem").read_bytes()
    with pytest.raises(FileExistsError):
        save_private_key(generate_signing_key(), d / "station.pem")
    station2 = load_signing_key(d / "station.pem")
    centre2 = load_centre_private_key(d / "centre.pem", password=b"pw")
    registry.register("station-file", "station", load_verify_key(d / "station.pub.pem"))
    sealed = seal(b"via files", sender_id="station-file", packet_id="p", signing_key=station2,
                  centre_public=load_centre_public_key(d / "centre.pub.pem"))
    assert open_sealed(sealed, senders=registry, centre_private=centre2).payload == b"via files"
    with pytest.raises(KeyFileError):
        load_centre_private_key(d / "station.pem")           # wrong key type
    with pytest.raises(KeyFileError):
        load_centre_private_key(d / "centre.pem", password=b"wrong")
    with pytest.raises(KeyFileError):
        load_verify_key(d / "centre.pub.pem")
    os.chmod(d / "station.pem", 0o640)
    with pytest.raises(KeyFileError, match="permissions"):
        load_signing_key(d / "station.pem")
