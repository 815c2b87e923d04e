"""Python client for services that ask Papilla to verify, identify or act on a record, on their own machine.

    client = PapillaClient.connect(broker_url=url, service_id="svc-egov", key_dir="keys",
                                   centre_public_file="centre-public.json")
    request_id = client.verify(iin, {2: png_bytes})
    result = client.wait(request_id, timeout=30)      # MATCH / NO_MATCH / NOT_ENROLLED / BLOCKED / REFUSED

The service's keys come from `papilla service init` (registered at the
centre from its request file); the centre's public key file from `papilla
centre export-public-key`. Requests are sealed (signed with the service's
Ed25519 key, encrypted to the centre) and sent with publisher confirms to the
intake exchange `papilla.intake`, the only exchange a service's broker user may
write to.
Results arrive on the service's durable queue `papilla.results.<service
id>` (declared and bound by the centre at registration; the client only
opens it), sealed to the service's own X25519 key and signed by the centre,
so nobody else can read them and a forged one is dropped; results of requests
made before a restart are still there.
"""
from __future__ import annotations

import base64
import dataclasses
import logging
import secrets
import time
from pathlib import Path
from typing import Mapping

import pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from papilla.shared.broker import rabbitmq_broker, send_to_intake
from papilla.shared.config import Settings
from papilla.shared.crypto.sealing import MAGIC, SealError, open_sealed, seal
from papilla.shared.messages import MessageError
from papilla.shared.parties import (CENTRE_ID, CentrePublic, PartyError, PartyKeys, load_centre_public_file,
                                    load_party)
from papilla.shared.principals import sign
from papilla.shared.messages import (Finger, FingerStatus, IdentifyRequest, LifecycleAction, LifecycleCommand,
                                     Result, TransferOrder, VerifyRequest, encode, parse_result)
from papilla.shared.results import open_results_queue, stored_result
from papilla.shared.routing import COMMAND, REQUEST


log = logging.getLogger(__name__)


class ResultTimeout(TimeoutError):
    pass


class ResultOpener:
    """Opens results sealed to this party by the centre; a plain body is accepted only as a refusal."""

    def __init__(self, keys: PartyKeys, centre: CentrePublic):
        self._keys, self._centre = keys, centre

    def get(self, sender_id: str):        # SenderLookup for open_sealed: only the centre signs results
        return self._centre.as_sender() if sender_id == CENTRE_ID else None

    def __call__(self, body: bytes) -> Result | None:
        if body[:4] == MAGIC:
            try:
                return parse_result(open_sealed(body, senders=self, centre_private=self._keys.box).payload)
            except (SealError, MessageError):
                log.warning("dropped a result that does not open with this party's key or the centre's signature")
                return None
        try:
            result = parse_result(body)
        except MessageError:
            return None
        # only an unregistered sender's refusal comes unsealed (the centre has no key to seal it to)
        return result if result.status == "REFUSED" else None


class RabbitResultWaiter:
    """Collects results for one party from its durable queue.

    A result is acknowledged only when it is handed to the caller: another request's result met on the way is
    held unacknowledged, and goes back to the queue when the waiter closes (a station waiting for one packet
    never swallows the answers to the packets it spooled earlier)."""

    def __init__(self, broker_url: str, reply_to: str, opener: ResultOpener | None = None):
        self._params = pika.URLParameters(broker_url)
        self.reply_to = reply_to
        self._open = opener or (lambda body: parse_result(body))
        self._held: dict[str, tuple[Result, int]] = {}    # request id -> (result, its unacked delivery tag)
        self._connect()

    def _connect(self) -> None:
        self._connection = pika.BlockingConnection(self._params)
        self._channel, self._queue = open_results_queue(self._connection, self.reply_to)   # the centre declared it
        self._held.clear()   # unacknowledged deliveries of a lost channel are back in the queue

    def _next(self) -> bool:
        """Hold the next delivery; False when the queue is empty now."""
        try:
            method, _props, body = self._channel.basic_get(self._queue, auto_ack=False)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError):
            self._connect()
            return True
        if method is None:
            return False
        result = self._open(body)
        if result is None or result.request_id in self._held:   # not ours to read, or a re-published copy
            self._channel.basic_ack(method.delivery_tag)
        else:
            self._held[result.request_id] = (result, method.delivery_tag)
        return True

    def _hand_over(self, request_id: str) -> Result:
        result, tag = self._held.pop(request_id)
        self._channel.basic_ack(tag)
        return result

    def wait(self, request_id: str, timeout: float) -> Result:
        deadline = time.monotonic() + timeout
        while request_id not in self._held:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ResultTimeout(f"no result for request {request_id} within {timeout:.0f} s")
            if not self._next():
                self._connection.sleep(min(0.05, remaining))
        return self._hand_over(request_id)

    def drain(self, timeout: float = 0.0) -> list[Result]:
        """Every result waiting in the queue (oldest first), each acknowledged as it is handed over; waits up to
        `timeout` seconds for the first one when none is there."""
        deadline = time.monotonic() + timeout
        while self._next() or (not self._held and time.monotonic() < deadline):
            if not self._held:
                self._connection.sleep(0.05)
        return [self._hand_over(request_id) for request_id in list(self._held)]

    def close(self) -> None:
        if self._connection.is_open:
            self._connection.close()


class StoreResultWaiter:
    """Polls the store (in-process demo, or a service inside the centre with store access)."""

    def __init__(self, store, poll_s: float = 0.05):
        self.store = store
        self.poll_s = poll_s

    def wait(self, request_id: str, timeout: float) -> Result:
        deadline = time.monotonic() + timeout
        while (result := stored_result(self.store, request_id)) is None:
            if time.monotonic() >= deadline:
                raise ResultTimeout(f"no result for request {request_id} within {timeout:.0f} s")
            time.sleep(self.poll_s)
        return result

    def close(self) -> None:
        pass


def _fingers(images: Mapping[int, object]) -> list[Finger]:
    fingers = []
    for position, image in sorted(images.items()):
        png, dpi = (image.png, image.dpi) if hasattr(image, "png") else (image, None)
        fingers.append(Finger(position=position, status=FingerStatus.CAPTURED, image=png, format="png", dpi=dpi))
    return fingers


class PapillaClient:
    def __init__(self, *, broker, service_id: str, signing_key: Ed25519PrivateKey,
                 centre_public: X25519PublicKey, waiter, reply_to: str | None = None, store=None):
        self.broker = broker
        self.service_id = service_id
        self.signing_key = signing_key
        self.centre_public = centre_public
        self.reply_to = reply_to or service_id
        self.waiter = waiter
        self.store = store

    @classmethod
    def connect(cls, *, broker_url: str, service_id: str, key_dir: str | Path,
                centre_public_file: str | Path, reply_to: str | None = None) -> "PapillaClient":
        """A client on the service's own machine: its keys in `key_dir`, the centre's public key file."""
        settings = dataclasses.replace(Settings.from_env(), broker_url=broker_url, station_key_dir=Path(key_dir))
        keys = load_party(settings, service_id)
        centre = load_centre_public_file(Path(centre_public_file))
        if keys.box is None:
            raise PartyError(f"{service_id} has no X25519 key: it is not a service (run `papilla service init`)")
        waiter = RabbitResultWaiter(broker_url, service_id, ResultOpener(keys, centre))  # queue before any request
        return cls(broker=rabbitmq_broker(settings), service_id=service_id, signing_key=keys.signing,
                   centre_public=centre.box, waiter=waiter, reply_to=reply_to)

    def _submit(self, message, request_id: str) -> str:
        sealed = seal(encode(message), sender_id=self.service_id, packet_id=request_id,
                      signing_key=self.signing_key, centre_public=self.centre_public)
        route = COMMAND if isinstance(message, LifecycleCommand) else REQUEST
        send_to_intake(self.broker, route, base64.b64encode(sealed).decode())   # the intake exchange only
        return request_id

    @staticmethod
    def new_request_id() -> str:
        return f"req-{secrets.token_hex(12)}"

    def verify(self, iin: str, images: Mapping[int, object], *, request_id: str | None = None) -> str:
        rid = request_id or self.new_request_id()
        return self._submit(VerifyRequest(request_id=rid, reply_to=self.reply_to, iin=iin,
                                          fingers=_fingers(images)), rid)

    def identify(self, images: Mapping[int, object], *, max_candidates: int = 10,
                 request_id: str | None = None) -> str:
        rid = request_id or self.new_request_id()
        return self._submit(IdentifyRequest(request_id=rid, reply_to=self.reply_to, fingers=_fingers(images),
                                            max_candidates=max_candidates), rid)

    def lifecycle(self, action: str, *, principal: PartyKeys, reason: str, iin: str | None = None,
                  enrollment_id: str | None = None, decision: str | None = None,
                  on_application_of: str | None = None, request_id: str | None = None,
                  transfer: TransferOrder | None = None, approver: PartyKeys | None = None) -> str:
        """A lifecycle command decided and signed by `principal` (a registered person or body); a transfer also
        names its order and is signed by `approver`, the second principal, over the same bytes."""
        rid = request_id or self.new_request_id()
        command = LifecycleCommand(request_id=rid, reply_to=self.reply_to, action=LifecycleAction(action), iin=iin,
                                   enrollment_id=enrollment_id, decision=decision, reason=reason,
                                   principal_id=principal.party_id, on_application_of=on_application_of,
                                   transfer=transfer, approver_id=approver.party_id if approver else None)
        command = sign(command, "principal_signature", principal.signing)
        if approver is not None:
            command = sign(command, "approver_signature", approver.signing)
        return self._submit(command, rid)

    def wait(self, request_id: str, timeout: float = 60.0) -> Result:
        return self.waiter.wait(request_id, timeout)

    def stored(self, request_id: str) -> Result | None:
        if self.store is None:
            raise RuntimeError("this client has no store access; results arrive on its results queue")
        return stored_result(self.store, request_id)

    def close(self) -> None:
        self.waiter.close()
        self.broker.close()
