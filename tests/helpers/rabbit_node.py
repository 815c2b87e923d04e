"""A throwaway RabbitMQ node beside the shared one: its own HOME (cookie), node name, ports and files.

See DESIGN.md's pitfalls: everything that could collide with the shared
node on 127.0.0.1:5672 is the node's own, and it is stopped by its own name.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pika
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from papilla.shared.config import Settings
from papilla.devstack import rabbit_node as devstack_rabbit

BIN = devstack_rabbit.RABBIT_BIN
INFRA = Path(__file__).resolve().parents[2] / "infra" / "rabbitmq"
PASSWORD = "test-only-password"
#: definitions.json's users (it carries no passwords: the node's fixture sets this test-only one).
SHIPPED_USERS = ("papilla-extract", "papilla-match", "papilla-lifecycle", "papilla-admin", "st-example-01",
                 "svc-example")
#: rabbitmq.conf lines the test node replaces with its own paths and ports.
REPLACED = re.compile(r"^(listeners\.|ssl_options\.(cacertfile|certfile|keyfile)|load_definitions|prometheus\.tcp\.)")


def shipped_conf(infra: Path, tls: dict[str, Path]) -> str:
    """The shipped rabbitmq.conf with the definitions file, the TLS listener and its files of this test run."""
    shipped = [line for line in (infra / "rabbitmq.conf").read_text().splitlines() if not REPLACED.match(line)]
    return "\n".join(shipped + [f"load_definitions = {infra / 'definitions.json'}",
                                "listeners.ssl.default = 127.0.0.1:{ssl_port}",
                                f"ssl_options.cacertfile = {tls['ca']}", f"ssl_options.certfile = {tls['server_cert']}",
                                f"ssl_options.keyfile = {tls['server_key']}"])


class RabbitNode(devstack_rabbit.RabbitNode):
    def __init__(self, workdir: Path, *, conf: str, plugins: tuple[str, ...] = ()):
        super().__init__(workdir, conf=conf, plugins=plugins, name="papilla-ops")


def _cert(subject: str, key, issuer=None, issuer_key=None, ca=False) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_tls(dirpath: Path) -> dict[str, Path]:
    """A test CA, a server certificate for 127.0.0.1 and a station's client certificate."""
    paths = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("papilla-test-ca", ca_key, ca=True)
    for name in ("server", "station"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(name, key, issuer=ca.subject, issuer_key=ca_key)
        paths[f"{name}_cert"] = dirpath / f"{name}.pem"
        paths[f"{name}_key"] = dirpath / f"{name}.key"
        paths[f"{name}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths[f"{name}_key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    paths["ca"] = dirpath / "ca.pem"
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return paths


def settings_for(node: RabbitNode, user: str, queue_type: str = "quorum", monkeypatch=None, vhost: str = "papilla"
                 ) -> Settings:
    monkeypatch.setenv("PAPILLA_BROKER_URL", node.url(user, PASSWORD, vhost))
    monkeypatch.setenv("PAPILLA_QUEUE_TYPE", queue_type)
    return Settings.from_env()


def connect(node: RabbitNode, user: str, vhost: str = "papilla") -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(node.url(user, PASSWORD, vhost)))


def channel(node: RabbitNode, user: str):
    return connect(node, user).channel()


def refused(fn) -> bool:
    """True when the broker closed the channel with 403 ACCESS_REFUSED."""
    try:
        fn()
    except pika.exceptions.ChannelClosedByBroker as exc:
        return exc.reply_code == 403
    return False


def message_count(node: RabbitNode, queue: str, vhost: str = "papilla") -> int:
    """Ready plus unacknowledged messages of `queue` (rabbitmqctl: quorum queues count there at once)."""
    out = node.ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "messages").stdout
    counts = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
    return int(counts.get(queue, 0))

