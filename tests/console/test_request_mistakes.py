"""`papilla request` mistakes are one sentence and exit 2, found before anything is sent (issue 21)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.console import clean_env, papilla

FVC_IMAGE = "DB1_B/101_1.tif"


@pytest.fixture(scope="module")
def service_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("service")
    env = clean_env(PAPILLA_BROKER_URL="amqp://guest:guest@127.0.0.1:1/%2F")   # nothing listens: never reached
    papilla(home, "centre", "init", env=env)
    papilla(home, "centre", "export-public-key", str(home / "centre-public.json"), env=env)
    papilla(home, "service", "init", "svc-x", env=env)
    papilla(home, "principal", "init", "p-x", "--role", "operator", env=env)
    (home / "not-an-image.png").write_text("hello")
    return home, env


@pytest.mark.parametrize("args, sentence", [
    ("verify svc-x --iin 12345 --finger 1=IMG", "papilla: --iin is not a valid IIN: IIN must be exactly twelve"),
    ("verify svc-x --iin 900517400015 --finger 1=missing.png", "papilla: --finger 1: missing.png: no such file"),
    ("verify svc-x --iin 900517400015 --finger 11=IMG", "papilla: --finger expects POSITION=FILE with a position"),
    ("verify svc-x --iin 900517400015 --finger 1=not-an-image.png", "papilla: not-an-image.png: the image for finger"),
    ("identify svc-x --finger 1=IMG --max-candidates 0", "papilla: --max-candidates must be 1 or more"),
    ("verify svc-nobody --iin 900517400015 --finger 1=IMG", "papilla: no keys for svc-nobody in"),
    ("lifecycle svc-x destroy --principal p-x --reason r --iin 123", "papilla: --iin is not a valid IIN"),
    ("lifecycle svc-x adjudicate --principal p-x --reason r", "papilla: adjudicate needs --enrollment ID and"),
    ("lifecycle svc-x destroy --principal p-nobody --reason r --iin 900517400015", "papilla: no keys for p-nobody"),
])
def test_a_request_mistake_is_one_sentence_and_exit_2(service_home, fvc_dir, args, sentence):
    home, env = service_home
    argv = [a.replace("IMG", str(fvc_dir / FVC_IMAGE)) for a in args.split()]
    proc = subprocess.run([sys.executable, "-m", "papilla.cli", "request", *argv], cwd=home,
                          env={**env, "PAPILLA_HOME": str(home)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(sentence), proc.stderr
    assert proc.stdout == ""
