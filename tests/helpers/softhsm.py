"""A SoftHSM2 token for tests: one per test session (the PKCS#11 library reads its
configuration once per process), one label prefix per test so tests never see
each other's keys.  Fails loudly when SoftHSM2 is not installed (run.sh installs it)."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from papilla.shared.crypto.pkcs11_keys import Pkcs11Config

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                     "/usr/local/lib/softhsm/libsofthsm2.so")
TOKEN = "papilla-test"
PIN = "4321"
SO_PIN = "87654321"


def softhsm_module() -> str:
    for candidate in MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    raise RuntimeError("SoftHSM2 is not installed (Debian package softhsm2; ./run.sh installs it)")


def make_token(directory: Path) -> dict[str, str]:
    """Initialise a token under ``directory``; returns the env a process needs to use it."""
    module = softhsm_module()
    if shutil.which("softhsm2-util") is None:
        raise RuntimeError("softhsm2-util is not installed (Debian package softhsm2; ./run.sh installs it)")
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
                   env={**os.environ, **env}, check=True, capture_output=True, timeout=60)
    return {**env, "PAPILLA_KEY_PROVIDER": "pkcs11", "PAPILLA_PKCS11_MODULE": module,
            "PAPILLA_PKCS11_TOKEN": TOKEN, "PAPILLA_PKCS11_PIN": PIN,
            "PAPILLA_PKCS11_LOCK_FILE": str(directory / "token.flock")}


def fresh_config(env: dict[str, str]) -> Pkcs11Config:
    """A config with a label prefix no other test uses."""
    return Pkcs11Config(module=env["PAPILLA_PKCS11_MODULE"], token_label=env["PAPILLA_PKCS11_TOKEN"],
                        pin=env["PAPILLA_PKCS11_PIN"], label_prefix=f"t{secrets.token_hex(6)}",
                        lock_file=env["PAPILLA_PKCS11_LOCK_FILE"])
