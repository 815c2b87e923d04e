"""Opening an audit trail from plain arguments, in the test process and in spawned children (a plain module, not
a conftest, so `multiprocessing`'s spawn start method can import it), and filling it with entries."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papilla.shared import audit
from papilla.shared.audit_chain import AuditPolicy, AuditTrail
from papilla.shared.crypto import sealing
from papilla.shared.crypto.keys import FileKeyProvider
from papilla.shared.store.mongo import MongoStore
from papilla.shared.store.sqlite import SQLiteStore


@dataclass(frozen=True)
class TrailSpec:
    """Everything a process needs to open the same trail: picklable."""

    kind: str              # "sqlite" | "mongo"
    location: str          # SQLite file, or MongoDB database name
    key_dir: str           # the audit key (file provider)
    signing_key: str       # the centre's Ed25519 key (PEM)
    checkpoint_dir: str
    checkpoint_every: int = 5

    def open(self, *, sign: bool = True) -> AuditTrail:
        store = SQLiteStore(self.location) if self.kind == "sqlite" else MongoStore(
            os.environ["PAPILLA_MONGO_URI"], self.location)
        key = sealing.load_signing_key(self.signing_key)
        policy = AuditPolicy(checkpoint_every=self.checkpoint_every, checkpoint_dir=Path(self.checkpoint_dir))
        return AuditTrail.of(store, FileKeyProvider(self.key_dir), signer=key if sign else None,
                             verify_key=key.public_key(), policy=policy)


def append_many(spec: TrailSpec, worker: int, count: int, start, results) -> None:
    """Wait for `start`, append `count` entries as actor `w<worker>`; put the sequence numbers on `results`."""
    trail = spec.open()
    try:
        start.wait()
        results.put([audit.append(trail, "blocked", subject_id=f"s-{worker}-{i}", actor=f"w{worker}",
                                  details={"request_id": f"r-{worker}-{i}"}) for i in range(count)])
    finally:
        trail.store.close()


ENTRIES = 12          # checkpoints (every 5) at entries 5 and 10


def make_spec(tmp_path, kind: str = "sqlite", location: str | None = None) -> TrailSpec:
    key_path = tmp_path / "centre-ed25519.pem"
    if not key_path.exists():
        sealing.save_private_key(Ed25519PrivateKey.generate(), key_path)
    return TrailSpec(kind=kind, location=location or str(tmp_path / "store.sqlite3"), key_dir=str(tmp_path / "keys"),
                     signing_key=str(key_path), checkpoint_dir=str(tmp_path / "checkpoints"))


def fill(trail, count: int = ENTRIES) -> None:
    actions = ("enrollment_activated", "blocked", "unblocked", "adjudicated", "destroyed")
    for i in range(count):
        audit.append(trail, actions[i % len(actions)], subject_id=f"subj-{i % 4}", actor=f"principal-{i % 3}",
                     details={"request_id": f"req-{i}"}, rule="Law Art.9 p.2" if i % 2 else None)
