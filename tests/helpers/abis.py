"""Test helpers of the MOSIP ABIS adapter: a centre with a registered MOSIP partner, synthetic people as CBEFF
documents, a tiny HTTP server on 127.0.0.1 serving them, and the MOSIP fixtures (tests/fixtures/mosip)."""
from __future__ import annotations

import io
import json
import subprocess
import threading
import uuid
from contextlib import contextmanager
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from papilla.devstack import rabbit_node as devstack_rabbit
from papilla.identity import ensure_sender
from papilla.services.abis import cbeff
from papilla.services.abis.domain import AbisContext
from papilla.services.abis.partner import AbisPartner
from papilla.services.capture.synthetic.impression import impression
from papilla.services.capture.synthetic.master import finger_master, person_fingers
from papilla.services.match.gallery import Gallery
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.formats.iso19794_4 import FingerImage, write_record
from papilla.shared.parties import init_centre
from papilla.shared.results import MemoryResultSink

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mosip"
SERVICE, PRINCIPAL = "mosip-regproc", "mosip-supervisor"
#: fingers per synthetic person in these tests (right and left index: enough for 1:N on a small gallery)
POSITIONS = (2, 7)


#: Under the Law (e.g. id_document) a delete is refused (Law Art.15, Art.17); tests/abis/test_law.py shows it.
PARTNER_BASIS = "public_service_authentication"


def partner_env(monkeypatch, home: Path, profile: str = "spec") -> None:
    monkeypatch.setenv("PAPILLA_HOME", str(home))
    monkeypatch.setenv("PAPILLA_ABIS_SERVICE", SERVICE)
    monkeypatch.setenv("PAPILLA_ABIS_PRINCIPAL", PRINCIPAL)
    monkeypatch.setenv("PAPILLA_ABIS_PROFILE", profile)
    # records for public-service authentication: the ones a delete (an application) may destroy the same day
    monkeypatch.setenv("PAPILLA_ABIS_LEGAL_BASIS", PARTNER_BASIS)


def open_partner_centre(role: str = "supervisor") -> Centre:
    """The centre of PAPILLA_HOME, initialised, with the MOSIP service and its principal registered."""
    settings = Settings.from_env()
    init_centre(settings)
    centre = Centre.open(settings, publisher=MemoryResultSink())
    ensure_sender(centre, settings, SERVICE, "service")
    ensure_sender(centre, settings, PRINCIPAL, "principal", role=role)
    return centre


def context(centre: Centre, profile: str = "spec") -> AbisContext:
    return AbisContext(centre=centre, gallery=Gallery(centre), partner=AbisPartner(SERVICE, PRINCIPAL, PARTNER_BASIS,
                                                                                 profile=profile))


@lru_cache(maxsize=64)
def finger_pixels(person: int, position: int, impression_seed: int) -> np.ndarray:
    spec = next(s for s in person_fingers(person) if s.position == position)
    return impression(finger_master(spec), impression_seed)


def encoded(pixels: np.ndarray, compression: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format={"jpeg2000": "JPEG2000", "wsq": "WSQ", "png": "PNG"}[compression])
    return out.getvalue()


def finger_record(pixels: np.ndarray, position: int, compression: str = "jpeg2000", ppi: int = 500) -> bytes:
    return write_record(FingerImage(position=position, ppi=ppi, compression=compression, width=pixels.shape[1],
                                    height=pixels.shape[0], data=encoded(pixels, compression), quality=80))


def person_cbeff(person: int, impression_seed: int = 0, positions=POSITIONS, compression: str = "jpeg2000") -> bytes:
    """A MOSIP-layout CBEFF document of one synthetic person's fingers (ISO 19794-4, URL-safe base64)."""
    return cbeff.document_of({p: finger_record(finger_pixels(person, p, impression_seed), p, compression)
                              for p in positions})


class CbeffServer:
    """Documents served over HTTP on 127.0.0.1 (an ephemeral port), as MOSIP's datashare serves them."""

    def __init__(self):
        self.documents: dict[str, bytes | int] = {}
        self.fetched: list[str] = []
        documents, fetched = self.documents, self.fetched

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                fetched.append(self.path)
                body = documents.get(self.path, 404)
                if isinstance(body, int):     # a status instead of a document (404 unknown, 410 expired)
                    self.send_response(body)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, body: bytes | int, name: str | None = None) -> str:
        path = f"/datashare/{name or uuid.uuid4()}"
        self.documents[path] = body
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"


@contextmanager
def cbeff_server():
    server = CbeffServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)


def fill(template: str, **values: str) -> dict:
    """A testing-kit request template (`${name}` placeholders) filled in and parsed."""
    for key, value in values.items():
        template = template.replace("${" + key + "}", value)
    return json.loads(template)


def request(operation: str, request_id: str | None = None, **fields) -> dict:
    doc = {"id": f"mosip.abis.{operation}", "version": "1.1", "requestId": request_id or str(uuid.uuid4()),
           "requesttime": "2026-12-07T08:00:00.000Z"}
    doc.update(fields)
    return doc


def schema(name: str) -> dict:
    return json.loads((FIXTURES / "kit" / "schemas" / f"{name}_response.json").read_text())


class Vhost:
    """A throwaway RabbitMQ vhost on the shared broker (127.0.0.1:5672, guest), deleted afterwards."""

    def __init__(self):
        self.name = f"papilla-abis-{uuid.uuid4().hex[:8]}"

    @staticmethod
    def _ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    def __enter__(self) -> str:
        self._ctl("add_vhost", self.name)
        self._ctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        return f"amqp://guest:guest@127.0.0.1:5672/{self.name}"

    def __exit__(self, *exc) -> None:
        self._ctl("delete_vhost", self.name)


RABBIT_BIN = devstack_rabbit.RABBIT_BIN


class StompNode(devstack_rabbit.RabbitNode):
    """A throwaway RabbitMQ node of its own with only the STOMP plugin enabled: what an ActiveMQ-speaking MOSIP
    deployment connects to (`stomp_port`)."""

    def __init__(self, workdir: Path):
        super().__init__(workdir, conf="stomp.listeners.tcp.1 = 127.0.0.1:{stomp_port}", plugins=("rabbitmq_stomp",),
                         name="papilla-abis")

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
