"""Processes for the rotation tests, run as ``python -m tests.helpers.rotation_procs ROLE …``
with the key provider configured by the environment (PAPILLA_KEY_PROVIDER etc.).

``crash-after N DB``  rotate with pages of 10; after N records print ``crash-point`` and
                      block, so the test can SIGKILL it mid-rotation.
``pause-after N DB``  the same, printing ``paused`` and going on after a line on stdin
                      (the pipeline answers requests while keys sit under two KEKs).
``traffic DB STOP BLOBS``  until the file STOP exists: decrypt existing subjects' fields and
                      enroll new subjects (new data keys); print ``ready`` after the first
                      operation and ``{"ops", "errors", …}`` as JSON at the end.
``rotate-when-told``  log in to the token, print ``ready``, wait for a line on stdin, then run
                      ``papilla centre rotate-kek --batch 50`` (the command's own code).

SoftHSM2 shared by several processes needs PAPILLA_PKCS11_LOCK_FILE (see
`pkcs11_keys._interprocess`); the helpers also log in before the traffic starts.
"""
from __future__ import annotations

import json
import os
import sys

from papilla.commands.centre_keys import main as centre_main
from papilla.shared.config import Settings
from papilla.shared.crypto.envelope import EnvelopeCipher
from papilla.shared.crypto.errors import CryptoError
from papilla.shared.crypto.providers import open_key_provider
from papilla.shared.crypto.rotation import KekRotation, RotationParams
from papilla.shared.store.sqlite import SQLiteStore

FIELD = ("subjects", "name")


def field_of(subject_id: str) -> bytes:
    return f"name of {subject_id}".encode()


def seed(cipher: EnvelopeCipher, ids: list[str]) -> dict[str, dict]:
    """Encrypt one field per subject; returns the blobs by subject id."""
    return {sid: cipher.encrypt(sid, FIELD[0], sid, FIELD[1], field_of(sid)) for sid in ids}


def dump_blobs(blobs: dict[str, dict], path) -> None:
    with open(path, "w") as fh:
        json.dump({sid: {k: (v.hex() if isinstance(v, bytes) else v) for k, v in blob.items()}
                   for sid, blob in blobs.items()}, fh)


def load_blobs(path) -> dict[str, dict]:
    with open(path) as fh:
        raw = json.load(fh)
    return {sid: {k: (bytes.fromhex(v) if k in ("n", "ct") else v) for k, v in blob.items()}
            for sid, blob in raw.items()}


def stop_after(limit: int, db: str, *, signal_line: str) -> None:
    """Rotate in pages of 10; after ``limit`` records print ``signal_line`` and wait for a
    line on stdin (a test kills the process there, or lets it go on)."""
    store = SQLiteStore(db)
    rotation = KekRotation(store, open_key_provider(Settings.from_env()), params=RotationParams(batch_size=10))
    seen = 0

    def on_record() -> None:
        nonlocal seen
        seen += 1
        if seen == limit:
            print(signal_line, flush=True)
            sys.stdin.readline()

    report = rotation.run(on_record=on_record)
    print(json.dumps({"target": report.target, "rewrapped": report.rewrapped, "usage": report.usage}), flush=True)


def traffic(db: str, stop: str, blobs_path: str) -> None:
    store = SQLiteStore(db)
    cipher = EnvelopeCipher(store, open_key_provider(Settings.from_env()))
    seeded = load_blobs(blobs_path)
    ids = sorted(seeded)
    blobs: dict[str, dict] = {}
    ops = errors = created = 0
    first_error = None
    tag = os.getpid()
    while not os.path.exists(stop):
        sid = ids[ops % len(ids)]
        try:
            if cipher.decrypt(sid, FIELD[0], sid, FIELD[1], seeded[sid]) != field_of(sid):
                raise AssertionError("wrong plaintext")
            new = f"new-{tag}-{created}"
            blobs[new] = cipher.encrypt(new, FIELD[0], new, FIELD[1], field_of(new))
            created += 1
        except (CryptoError, AssertionError) as exc:
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
        ops += 1
        if ops == 1:
            print("ready", flush=True)
    for sid, blob in blobs.items():  # every key made during the rotation still opens
        if cipher.decrypt(sid, FIELD[0], sid, FIELD[1], blob) != field_of(sid):
            errors += 1
    print(json.dumps({"ops": ops, "errors": errors, "created": created, "first_error": first_error}), flush=True)


def rotate_when_told() -> int:
    open_key_provider(Settings.from_env()).kek_ids()  # log in now, not while the traffic runs
    print("ready", flush=True)
    sys.stdin.readline()
    return centre_main(["rotate-kek", "--batch", "50"])


if __name__ == "__main__":
    role, *rest = sys.argv[1:]
    if role == "crash-after":
        stop_after(int(rest[0]), rest[1], signal_line="crash-point")
    elif role == "pause-after":
        stop_after(int(rest[0]), rest[1], signal_line="paused")
    elif role == "traffic":
        traffic(*rest)
    elif role == "rotate-when-told":
        sys.exit(rotate_when_told())
    else:
        raise SystemExit(f"unknown role {role}")
