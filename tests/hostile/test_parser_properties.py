"""Property tests for every parser that faces the outside: whatever bytes arrive, each raises only its own
error type (never IndexError, struct.error, MemoryError, a pydantic or Pillow exception …).

Inputs are arbitrary bytes and mutations (flips, cuts, splices) of valid inputs, so the search reaches
past the first magic-number check. Budget bounded for CI: `max_examples` per property, no deadline.
"""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import dramatiq
import numpy as np
import pytest
from dramatiq.brokers.stub import StubBroker
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from papilla.shared import wire
from papilla.shared.crypto import sealing
from papilla.shared.crypto.registry import SenderRegistry
from papilla.shared.formats.images import ImageFormatError, decode_image
from papilla.shared.formats.iso19794_2 import IsoFormatError, IsoView, read_iso, write_iso
from papilla.shared.messages import (EnrollmentPacket, Finger, MessageError, encode,
                                     parse_request)
from papilla.shared.routing import UNDECODABLE
from papilla.shared.store.sqlite import SQLiteStore
from papilla.shared.template import MINUTIA_DTYPE
from tests.helpers.builders import identity

pytestmark = pytest.mark.hostile
BUDGET = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.data_too_large])


@st.composite
def mutated(draw, valid: bytes):
    """`valid` with a few bytes flipped, a cut, or a splice of random bytes."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "splice", "set"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80]))
        elif op == "cut":
            data = data[:i] if draw(st.booleans()) else data[i:]
        else:
            data[i:i] = draw(st.binary(max_size=64))
    return bytes(data)


def inputs(valid: bytes):
    return st.one_of(st.binary(max_size=512), mutated(valid))


# --- sealed packets ----------------------------------------------------------
STATION_KEY = sealing.generate_signing_key()
CENTRE_KEY = sealing.generate_centre_key()
VALID_SEALED = sealing.seal(b'{"schema":"papilla.verify/1"}', sender_id="st-1", packet_id="pk-1",
                            signing_key=STATION_KEY, centre_public=CENTRE_KEY.public_key())


@pytest.fixture(scope="module")
def senders(tmp_path_factory):
    store = SQLiteStore(tmp_path_factory.mktemp("props") / "s.sqlite3")
    registry = SenderRegistry(store)
    registry.register("st-1", "station", STATION_KEY.public_key())
    yield registry
    store.close()


@BUDGET
@given(data=inputs(VALID_SEALED))
def test_sealed_packets_raise_only_seal_errors(senders, data):
    try:
        opened = sealing.open_sealed(data, senders=senders, centre_private=CENTRE_KEY)
    except sealing.SealError as exc:
        assert exc.code != "seal_error"   # a specific code
        return
    assert data == VALID_SEALED and opened.payload.startswith(b"{")


@BUDGET
@given(data=inputs(VALID_SEALED))
def test_sealed_headers_raise_only_seal_errors(data):
    try:
        sealing.peek_header(data)
    except sealing.SealError:
        pass


# --- message schemas ---------------------------------------------------------
def _valid_packet() -> bytes:
    now = datetime(2026, 11, 22, tzinfo=timezone.utc)
    return encode(EnrollmentPacket(
        packet_id="st-1-0001", station_id="st-1", operator_id="op-7", captured_at=now,
        **identity("840517400415", "A B", operator_id="op-7", signed_on=now),
        fingers=[Finger(position=1, status="captured", image=b"\x89PNG", format="png", dpi=500)]
        + [Finger(position=p, status="amputated") for p in range(2, 11)]))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=4), max_leaves=20)


@BUDGET
@given(data=st.one_of(inputs(_valid_packet()), json_values.map(lambda v: json.dumps(v).encode()),
                      st.dictionaries(st.sampled_from(["schema", "request_id", "reply_to", "iin", "fingers",
                                                       "max_candidates", "action", "reason", "requested_by"]),
                                      json_values, max_size=9)
                      .map(lambda d: json.dumps({"schema": "papilla.identify/1", **d}).encode())))
def test_message_schemas_raise_only_message_errors(data):
    try:
        parse_request(data)
    except MessageError as exc:
        assert exc.code == "malformed_message" and exc.problems


# --- ISO/IEC 19794-2 ---------------------------------------------------------
def _valid_iso() -> bytes:
    m = np.zeros(3, dtype=MINUTIA_DTYPE)
    m["x"], m["y"], m["angle"], m["kind"], m["quality"] = [10, 20, 30], [40, 50, 60], [0.1, 1.0, 2.0], [1, 2, 1], 50
    return write_iso([IsoView(minutiae=m, finger_position=1, quality=60)], width=300, height=400, dpi=500)


@BUDGET
@given(data=inputs(_valid_iso()))
def test_iso_records_raise_only_iso_errors(data):
    try:
        read_iso(data)
    except IsoFormatError:
        pass


# --- images ------------------------------------------------------------------
def _image(fmt: str, size=(120, 140)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.arange(size[0] * size[1]) % 251).astype(np.uint8).reshape(size[1], size[0])).save(buf, fmt)
    return buf.getvalue()


IMAGES = [_image(f) for f in ("PNG", "TIFF", "BMP", "JPEG")]


@pytest.fixture(scope="module")
def wsq_sample(data_dir) -> bytes:
    return (data_dir / "samples" / "wsq-original.wsq").read_bytes()


@BUDGET
@given(data=st.one_of(*[mutated(v) for v in IMAGES], st.binary(max_size=512)))
def test_images_raise_only_image_format_errors(data):
    try:
        decoded = decode_image(data)
    except ImageFormatError:
        return
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.ndim == 2
    assert 100 <= min(decoded.pixels.shape) and max(decoded.pixels.shape) <= 1000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_wsq_images_raise_only_image_format_errors(wsq_sample, data):
    try:
        decode_image(data.draw(mutated(wsq_sample)))
    except ImageFormatError:
        pass


# --- the wire encoder --------------------------------------------------------
@pytest.fixture(scope="module")
def declared_broker():
    broker = StubBroker()
    previous = dramatiq.get_broker() if hasattr(dramatiq.broker, "global_broker") else None
    dramatiq.set_broker(broker)

    def one_arg(text: str) -> None:
        pass

    dramatiq.actor(one_arg, broker=broker, actor_name="one_arg", queue_name="q")
    yield broker
    if previous is not None:
        dramatiq.set_broker(previous)


VALID_ENVELOPE = json.dumps({"queue_name": "q", "actor_name": "one_arg", "args": ["x"], "kwargs": {}, "options": {},
                             "message_id": "m-1", "message_timestamp": 1}).encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(inputs(VALID_ENVELOPE), json_values.map(lambda v: json.dumps(v).encode())))
def test_the_wire_decoder_never_raises_and_yields_a_runnable_message(declared_broker, data):
    fields = wire.GuardedJSONEncoder().decode(data)
    message = dramatiq.Message(**fields)         # always a well-formed envelope …
    if message.actor_name == UNDECODABLE.actor:  # … either a refusal naming reason, size and digest only,
        reason, size, digest = message.args
        assert reason in ("malformed_message", "unknown_actor", "message_too_large") and size == len(data)
    else:                                        # … or a call that fits the actor it names
        assert wire.envelope_problem(fields) is None
