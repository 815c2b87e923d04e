"""No command outside `papilla centre …` and the workers ever creates a centre key: every station and client
command run on a fresh home either works with the party's own keys or says in one sentence what is missing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CENTRE_KEY_NAMES = ("centre-x25519.pem", "centre-ed25519.pem", "iin-pepper", "kek")


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPILLA_")}
    env.update(PAPILLA_HOME=str(home), PAPILLA_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/%2F")
    return subprocess.run([sys.executable, "-m", "papilla.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


COMMANDS = [
    (("station", "init", "st-fresh-1"), 0),
    (("principal", "init", "op-fresh-1", "--role", "operator"), 0),
    (("service", "init", "svc-fresh-1"), 0),
    (("station", "init", "st-fresh-1"), 2),                       # keys exist: one id, one key, for good
    (("station", "enroll", "st-fresh-1", "--operator", "op-fresh-1", "--iin", "860412400617", "--name", "N",
      "--document-type", "id_card", "--document-number", "N1", "--document-birth-date", "1986-04-12",
      "--consent-ref", "form-1", "--conditions-explained", "--synthetic", "1", "--wait", "5"), 2),  # no centre key
    (("station", "flush", "st-fresh-1"), 2),
    (("request", "verify", "svc-fresh-1", "--iin", "860412400617", "--finger", "2=x.png"), 2),
    (("request", "identify", "svc-fresh-1", "--finger", "2=x.png"), 2),
    (("request", "lifecycle", "svc-fresh-1", "block", "--principal", "op-fresh-1", "--reason", "r",
      "--iin", "860412400617"), 2),
    (("station", "enroll", "st-nobody", "--operator", "op-fresh-1", "--iin", "860412400617", "--name", "N",
      "--document-type", "id_card", "--document-number", "N1", "--document-birth-date", "1986-04-12",
      "--consent-ref", "form-1", "--conditions-explained", "--synthetic", "1"), 2),   # no keys for this station
]


def test_station_and_client_commands_never_make_a_centre_key(tmp_path):
    """The commands in sequence on one fresh home (each later one relies on the keys made before)."""
    home = tmp_path / "fresh-home"
    for args, expected in COMMANDS:
        done = run(home, *args)
        assert done.returncode == expected, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        if expected:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("papilla: "), (args, done.stderr)
        made = [p.name for p in home.rglob("*") if p.is_file()]
        assert not [n for n in made if n.startswith(CENTRE_KEY_NAMES)], (args, made)
