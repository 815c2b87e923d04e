"""Python client for services that ask Papilla to verify, identify or act on a record.

    client = PapillaClient.connect(service_id="egov-portal", signing_key=key, centre_public=centre_pub)
    request_id = client.verify(iin, {2: png_bytes})
    result = client.wait(request_id, timeout=30)      # MATCH / NO_MATCH / NOT_ENROLLED / BLOCKED

Requests are sealed (signed with the service's registered Ed25519 key,
encrypted to the centre) and sent with publisher confirms. Results arrive on
the service's durable queue `papilla.results.<reply_to>`, so results of
requests made before a restart are still there; `stored(request_id)` reads a
result from the store after the fact.
"""
from __future__ import annotations

import base64
import dataclasses
import secrets
import time
from typing import Mapping

import pika
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from papilla.shared.broker import send
from papilla.shared.crypto.sealing import seal
from papilla.shared.messages import (Finger, FingerStatus, IdentifyRequest, LifecycleAction, LifecycleCommand,
                                     Result, VerifyRequest, encode, parse_result)
from papilla.shared.results import declare_results_queue, stored_result
from papilla.shared.routing import REQUEST


class ResultTimeout(TimeoutError):
    pass


class RabbitResultWaiter:
    """Collects results for one `reply_to` from its durable queue, buffering other requests' results."""

    def __init__(self, broker_url: str, reply_to: str):
        self._params = pika.URLParameters(broker_url)
        self.reply_to = reply_to
        self._buffer: dict[str, Result] = {}
        self._connect()

    def _connect(self) -> None:
        self._connection = pika.BlockingConnection(self._params)
        self._channel = self._connection.channel()
        self._queue = declare_results_queue(self._channel, self.reply_to)

    def wait(self, request_id: str, timeout: float) -> Result:
        deadline = time.monotonic() + timeout
        while request_id not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ResultTimeout(f"no result for request {request_id} within {timeout:.0f} s")
            try:
                method, _props, body = self._channel.basic_get(self._queue, auto_ack=False)
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError):
                self._connect()
                continue
            if method is None:
                self._connection.sleep(min(0.05, remaining))
                continue
            result = parse_result(body)
            self._buffer.setdefault(result.request_id, result)  # a re-published result changes nothing
            self._channel.basic_ack(method.delivery_tag)
        return self._buffer.pop(request_id)

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
    def connect(cls, *, broker_url: str, service_id: str, signing_key: Ed25519PrivateKey,
                centre_public: X25519PublicKey, reply_to: str | None = None, store=None) -> "PapillaClient":
        from papilla.shared.broker import rabbitmq_broker
        from papilla.shared.config import Settings

        settings = dataclasses.replace(Settings.from_env(), broker_url=broker_url)
        reply_to = reply_to or service_id
        waiter = RabbitResultWaiter(broker_url, reply_to)  # declare the results queue before any request
        return cls(broker=rabbitmq_broker(settings), service_id=service_id, signing_key=signing_key,
                   centre_public=centre_public, waiter=waiter, reply_to=reply_to, store=store)

    def _submit(self, message, request_id: str) -> str:
        sealed = seal(encode(message), sender_id=self.service_id, packet_id=request_id,
                      signing_key=self.signing_key, centre_public=self.centre_public)
        send(self.broker, REQUEST, base64.b64encode(sealed).decode())
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

    def lifecycle(self, action: str, *, reason: str, requested_by: str, iin: str | None = None,
                  enrollment_id: str | None = None, decision: str | None = None,
                  request_id: str | None = None) -> str:
        rid = request_id or self.new_request_id()
        return self._submit(LifecycleCommand(request_id=rid, reply_to=self.reply_to, action=LifecycleAction(action),
                                             iin=iin, enrollment_id=enrollment_id, decision=decision,
                                             reason=reason, requested_by=requested_by), rid)

    def wait(self, request_id: str, timeout: float = 60.0) -> Result:
        return self.waiter.wait(request_id, timeout)

    def stored(self, request_id: str) -> Result | None:
        if self.store is None:
            raise RuntimeError("this client has no store access; results arrive on its results queue")
        return stored_result(self.store, request_id)

    def close(self) -> None:
        self.waiter.close()
        self.broker.close()
