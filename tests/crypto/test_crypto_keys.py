from __future__ import annotations

import multiprocessing as mp
import os
import stat

import pytest

from papilla.shared.crypto.errors import KeyFileError, KeyUnwrapError, UnknownKeyId
from papilla.shared.crypto.keys import KEK_SIZE, FileKeyProvider, KeyProvider


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_first_use_creates_private_kek(keys, key_dir):
    assert isinstance(keys, KeyProvider)
    assert keys.kek_ids() == []
    assert keys.current_kek_id() == "kek-1"
    assert mode(key_dir) == 0o700
    assert mode(key_dir / "kek-1.key") == 0o600
    assert len((key_dir / "kek-1.key").read_bytes()) == KEK_SIZE
    assert sorted(os.listdir(key_dir)) == ["kek-1.key"]  # no temp leftovers
    assert (key_dir / "kek-1.key").read_bytes().hex() not in repr(keys)


def test_rotation_keeps_old_keks_usable(keys, key_dir):
    k1 = keys.current_kek_id()
    nonce, wrapped = keys.wrap_key(k1, b"k" * 32, b"aad")
    assert keys.rotate_kek() == "kek-2"
    assert keys.current_kek_id() == "kek-2"
    assert keys.kek_ids() == ["kek-1", "kek-2"]
    # a second provider (another process) sees the rotation and the old key
    other = FileKeyProvider(key_dir)
    assert other.current_kek_id() == "kek-2"
    assert other.unwrap_key(k1, nonce, wrapped, b"aad") == b"k" * 32


def test_unwrap_checks_aad_and_key_id(keys):
    kek = keys.current_kek_id()
    nonce, wrapped = keys.wrap_key(kek, b"k" * 32, b"subject-a")
    with pytest.raises(KeyUnwrapError):
        keys.unwrap_key(kek, nonce, wrapped, b"subject-b")
    with pytest.raises(UnknownKeyId):
        keys.unwrap_key("kek-9", nonce, wrapped, b"subject-a")
    with pytest.raises(UnknownKeyId):
        keys.unwrap_key("../etc/passwd", nonce, wrapped, b"subject-a")


def test_refuses_world_readable_kek(keys, key_dir):
    keys.current_kek_id()
    os.chmod(key_dir / "kek-1.key", 0o644)
    with pytest.raises(KeyFileError, match="permissions"):
        FileKeyProvider(key_dir).wrap_key("kek-1", b"k" * 32, b"")


def test_refuses_wrong_size_kek(key_dir):
    key_dir.mkdir(mode=0o700)
    fd = os.open(key_dir / "kek-1.key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    with pytest.raises(KeyFileError, match="size"):
        FileKeyProvider(key_dir).wrap_key("kek-1", b"k" * 32, b"")


def test_pepper_created_once_and_stable(keys, key_dir):
    pepper = keys.iin_pepper()
    assert len(pepper) == 32
    assert mode(key_dir / "iin-pepper.key") == 0o600
    assert FileKeyProvider(key_dir).iin_pepper() == pepper


def _race_first_use(key_dir, barrier, queue):
    provider = FileKeyProvider(key_dir)
    barrier.wait()
    kek = provider.current_kek_id()
    queue.put((kek, provider.wrap_key(kek, b"x" * 32, b"race"), provider.iin_pepper()))


def test_concurrent_first_use_creates_one_kek(key_dir):
    ctx = mp.get_context("fork")
    n = 6
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race_first_use, args=(key_dir, barrier, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=20) for _ in range(n)]
    for p in procs:
        p.join(20)
        assert p.exitcode == 0
    assert {r[0] for r in results} == {"kek-1"}
    assert sorted(os.listdir(key_dir)) == ["iin-pepper.key", "kek-1.key"]
    assert len({r[2] for r in results}) == 1  # one pepper for everybody
    reader = FileKeyProvider(key_dir)
    for kek, (nonce, wrapped), _ in results:  # everybody wrapped under the same KEK
        assert reader.unwrap_key(kek, nonce, wrapped, b"race") == b"x" * 32
