"""KEK rotation by re-wrapping data keys: complete, resumable after a crash, and invisible
to readers and writers running at the same time."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from papilla.commands.centre_keys import main as centre_main
from papilla.shared.config import Settings
from papilla.shared.crypto.envelope import EnvelopeCipher
from papilla.shared.crypto.errors import RotationError, UnknownKeyId
from papilla.shared.crypto.pkcs11_keys import Pkcs11KeyProvider
from papilla.shared.crypto.providers import open_key_provider
from papilla.shared.crypto.rotation import KekRotation, RotationParams, kek_usage
from papilla.shared.store import open_store

from tests.helpers.rotation_procs import FIELD, dump_blobs, field_of, seed

REPO = Path(__file__).resolve().parents[2]


def read_all(cipher: EnvelopeCipher, blobs: dict[str, dict]) -> None:
    for sid, blob in blobs.items():
        assert cipher.decrypt(sid, FIELD[0], sid, FIELD[1], blob) == field_of(sid)


def test_rotation_rewraps_every_live_key_and_leaves_tombstones_alone(any_keys, store):
    cipher = EnvelopeCipher(store, any_keys)
    blobs = seed(cipher, [f"subj-{i:03d}" for i in range(60)])
    for sid in ("subj-005", "subj-017", "subj-042"):
        cipher.shred(sid)
        del blobs[sid]
    rotation = KekRotation(store, any_keys, params=RotationParams(batch_size=7))
    calls = []
    report = rotation.run(on_pass=lambda n, total: calls.append((n, total)))
    assert (report.target, report.resumed, report.rewrapped) == ("kek-2", False, 57)
    assert calls[0] == (1, 60) and report.passes == 2  # the second sweep confirms nothing is left
    assert kek_usage(store) == {"kek-2": 57}
    assert store.get("data_keys", "subj-005")["state"] == "destroyed"
    assert rotation.state()["state"] == "done" and rotation.state()["rewrapped"] == 57
    read_all(cipher, blobs)
    # retiring the old KEK leaves everything readable; the next rotation makes kek-3
    rotation.retire("kek-1")
    assert any_keys.kek_ids() == ["kek-2"]
    read_all(EnvelopeCipher(store, any_keys), blobs)
    assert rotation.run().target == "kek-3"


def test_retire_refuses_while_keys_are_wrapped_under_the_kek(keys, store):
    cipher = EnvelopeCipher(store, keys)
    blobs = seed(cipher, ["a", "b"])
    rotation = KekRotation(store, keys)
    with pytest.raises(RotationError, match="current"):
        rotation.retire("kek-1")
    keys.rotate_kek()  # a new KEK by hand, without re-wrapping
    with pytest.raises(RotationError, match="2 data keys are still wrapped under kek-1"):
        rotation.retire("kek-1")
    with pytest.raises(UnknownKeyId):
        rotation.retire("kek-x")
    read_all(cipher, blobs)


class CrashAfterNewKek:
    """A provider that dies right after the token made the new KEK, before it was recorded."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def rotate_kek(self):
        self._inner.rotate_kek()
        raise KeyboardInterrupt("power cut")


def test_crash_between_new_kek_and_its_record_resumes_without_a_third_kek(hsm_keys, store):
    cipher = EnvelopeCipher(store, hsm_keys)
    blobs = seed(cipher, [f"s{i}" for i in range(20)])
    with pytest.raises(KeyboardInterrupt):
        KekRotation(store, CrashAfterNewKek(hsm_keys)).run()
    assert hsm_keys.kek_ids() == ["kek-1", "kek-2"]
    report = KekRotation(store, hsm_keys).run()
    assert (report.target, report.resumed, report.rewrapped) == ("kek-2", True, 20)
    assert hsm_keys.kek_ids() == ["kek-1", "kek-2"]
    read_all(cipher, blobs)


def hsm_env(softhsm_env, hsm_config, home: Path) -> dict:
    return {**os.environ, **softhsm_env, "PAPILLA_HOME": str(home),
            "PAPILLA_PKCS11_LABEL_PREFIX": hsm_config.label_prefix, "PYTHONPATH": str(REPO)}


def test_killed_mid_rotation_resumes_and_every_key_stays_readable(softhsm_env, hsm_config, tmp_path, store,
                                                                  db_path):
    keys = Pkcs11KeyProvider(hsm_config, create=False)
    keys.initialise()
    cipher = EnvelopeCipher(store, keys)
    blobs = seed(cipher, [f"subj-{i:04d}" for i in range(200)])
    proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.rotation_procs", "crash-after", "95",
                             str(db_path)], cwd=REPO, env=hsm_env(softhsm_env, hsm_config, tmp_path),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "crash-point", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    rotation = KekRotation(store, keys)
    crashed = rotation.state()
    assert crashed["state"] == "running" and crashed["target"] == "kek-2" and crashed["cursor"] == "subj-0089"
    usage = kek_usage(store)
    assert usage["kek-1"] > 0 and usage["kek-2"] >= 90  # stopped half-way: both KEKs in use
    read_all(cipher, blobs)  # half-rotated is fully readable
    report = rotation.run()
    assert (report.target, report.resumed) == ("kek-2", True)
    assert keys.kek_ids() == ["kek-1", "kek-2"]  # resuming made no third KEK
    assert kek_usage(store) == {"kek-2": 200}
    read_all(EnvelopeCipher(store, Pkcs11KeyProvider(hsm_config)), blobs)


def start(args: list[str], env: dict) -> subprocess.Popen:
    """Start a helper process and wait until it says it is logged in and working."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.rotation_procs", *args], cwd=REPO, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"helper {args[0]} did not start: {proc.stderr.read()[-3000:]}")
    return proc


def test_requests_keep_being_answered_during_rotation(softhsm_env, hsm_config, tmp_path, store, db_path):
    """Three processes decrypt existing subjects and make new ones while `rotate-kek` runs
    in a fourth: no operation fails, and keys made during the rotation end under the new KEK."""
    keys = Pkcs11KeyProvider(hsm_config, create=False)
    keys.initialise()
    blobs = seed(EnvelopeCipher(store, keys), [f"subj-{i:04d}" for i in range(400)])
    dump_blobs(blobs, tmp_path / "blobs.json")
    env = {**hsm_env(softhsm_env, hsm_config, tmp_path), "PAPILLA_KEY_VAULT_URI": f"sqlite:///{db_path}"}
    stop = tmp_path / "stop"
    rotate = start(["rotate-when-told"], env)
    traffic = []
    try:
        for _ in range(3):
            traffic.append(start(["traffic", str(db_path), str(stop), str(tmp_path / "blobs.json")], env))
        before = store.count("data_keys", {})
        rotate.stdin.write("go\n")
        rotate.stdin.flush()
        rotate_out, rotate_err = rotate.communicate(timeout=600)
        during = store.count("data_keys", {}) - before
    finally:
        stop.touch()
        rotate.kill() if rotate.poll() is None else None
        outputs = [p.communicate(timeout=120) for p in traffic]
    assert rotate.returncode == 0, rotate_err[-3000:]
    assert "re-wrapping data keys" in rotate_err and "now wrapped under kek-2" in rotate_out
    assert all(p.returncode == 0 for p in traffic), [err[-3000:] for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [r["errors"] for r in results] == [0, 0, 0], results
    assert during > 0, "no new data key was made while the rotation ran"
    assert sum(r["created"] for r in results) + 400 == store.count("data_keys", {})
    assert set(kek_usage(store)) == {"kek-2"}


def test_command_reports_status_and_refusals_in_one_sentence(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    monkeypatch.delenv("PAPILLA_KEY_PROVIDER", raising=False)
    assert centre_main(["rotate-kek", "--quiet"]) == 1  # no keys yet: never made by a rotation
    assert "papilla centre init" in capsys.readouterr().err
    settings = Settings.from_env()
    keys = open_key_provider(settings)
    keys.initialise()
    store = open_store(settings.key_vault_uri)
    blobs = seed(EnvelopeCipher(store, keys), ["x1", "x2", "x3"])
    assert centre_main(["rotate-kek", "--quiet"]) == 0
    assert "now wrapped under kek-2 (3 re-wrapped" in capsys.readouterr().out
    assert centre_main(["retire-kek", "kek-2"]) == 1
    assert capsys.readouterr().err.strip() == "papilla centre: kek-2 is the current KEK; rotate before retiring it"
    assert centre_main(["kek-status"]) == 0
    out = capsys.readouterr().out
    assert "kek-1" in out and "retirable" in out and "kek-2" in out and "3 data keys   current" in out
    assert centre_main(["retire-kek", "kek-1"]) == 0
    assert keys.kek_ids() == ["kek-2"]
    read_all(EnvelopeCipher(store, keys), blobs)
    store.close()
