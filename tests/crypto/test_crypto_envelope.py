from __future__ import annotations

import multiprocessing as mp
import os

import pytest

from papilla.shared.crypto.envelope import DATA_KEYS, EnvelopeCipher
from papilla.shared.crypto.errors import DataKeyDestroyed, IntegrityError, WrappedKeyError
from papilla.shared.crypto.keys import FileKeyProvider

from papilla.shared.store.sqlite import SQLiteStore

SECRET = b"TEMPLATE-BYTES-\x00\x01\x02-" * 4
SUBJ, OTHER = "subj-0001", "subj-0002"
LOC = ("enrollments", "enr-77", "templates")


@pytest.fixture
def env(store, keys):
    return EnvelopeCipher(store, keys)


def test_round_trip(env, store):
    blob = env.encrypt(SUBJ, *LOC, SECRET)
    assert set(blob) == {"v", "kv", "n", "ct"} and blob["v"] == 1 and blob["kv"] == 1
    assert isinstance(blob["n"], bytes) and len(blob["n"]) == 12
    assert SECRET not in blob["ct"]
    assert env.decrypt(SUBJ, *LOC, blob) == SECRET
    assert env.decrypt(SUBJ, *LOC, env.encrypt(SUBJ, *LOC, b"")) == b""
    # the blob survives a store round trip
    store.insert("enrollments", {"_id": "enr-77", "templates": blob})
    assert env.decrypt(SUBJ, *LOC, store.get("enrollments", "enr-77")["templates"]) == SECRET
    record = store.get(DATA_KEYS, SUBJ)
    assert record["state"] == "active" and record["kek_id"] == "kek-1" and record["key_version"] == 1
    assert len(record["wrapped"]) == 48  # 32-byte key + GCM tag


def test_one_data_key_per_subject(env, store):
    env.encrypt(SUBJ, *LOC, b"a")
    first = store.get(DATA_KEYS, SUBJ)
    env.encrypt(SUBJ, "subjects", "s-1", "iin", b"b")
    assert store.get(DATA_KEYS, SUBJ) == first


@pytest.mark.parametrize("where", [
    (OTHER, *LOC),                                   # another subject
    (SUBJ, "enrollments", "enr-78", "templates"),    # another document
    (SUBJ, "enrollments", "enr-77", "images"),       # another field
    (SUBJ, "subjects", "enr-77", "templates"),       # another collection
])
def test_moved_ciphertext_fails(env, where, assert_clean):
    blob = env.encrypt(SUBJ, *LOC, SECRET)
    env.encrypt(OTHER, *LOC, b"other subject has a key too")
    with pytest.raises(IntegrityError) as info:
        env.decrypt(*where, blob)
    exc = info.value
    assert exc.collection == where[1] and exc.field == where[3] and exc.doc_id == where[2]
    assert repr(where[3]) in str(exc) and repr(where[1]) in str(exc)  # says which field failed
    assert_clean(exc, SECRET, where[0], where[2], blob["ct"], blob["n"])


@pytest.mark.parametrize("mutate", [
    lambda b: b.update(ct=bytes([b["ct"][0] ^ 1]) + b["ct"][1:]),
    lambda b: b.update(ct=b["ct"][:-1] + bytes([b["ct"][-1] ^ 0x80])),
    lambda b: b.update(n=bytes(12)),
    lambda b: b.update(kv=2),
    lambda b: b.update(v=2),
    lambda b: b.update(ct=b"short"),
    lambda b: b.pop("n"),
    lambda b: b.update(kv=True),
])
def test_tampered_ciphertext_fails(env, mutate, assert_clean):
    blob = env.encrypt(SUBJ, *LOC, SECRET)
    mutate(blob)
    with pytest.raises(IntegrityError) as info:
        env.decrypt(SUBJ, *LOC, blob)
    assert_clean(info.value, SECRET, SUBJ)


def test_wrapped_key_moved_to_another_subject_fails(env, store, assert_clean):
    blob = env.encrypt(SUBJ, *LOC, SECRET)
    env.encrypt(OTHER, *LOC, b"x")
    a = store.get(DATA_KEYS, SUBJ)
    # attacker copies subject A's wrapped key onto B's record, and A's ciphertext under B
    store.update(DATA_KEYS, {"_id": OTHER}, set={k: a[k] for k in ("kek_id", "key_version", "nonce", "wrapped")})
    with pytest.raises(WrappedKeyError) as info:
        env.decrypt(OTHER, *LOC, blob)
    assert isinstance(info.value, IntegrityError)
    assert_clean(info.value, SECRET, OTHER, a["wrapped"])
    with pytest.raises(WrappedKeyError):
        env.encrypt(OTHER, *LOC, b"y")  # nor is it used to encrypt


def test_tampered_wrapped_key_fails(env, store):
    blob = env.encrypt(SUBJ, *LOC, SECRET)
    w = store.get(DATA_KEYS, SUBJ)["wrapped"]
    store.update(DATA_KEYS, {"_id": SUBJ}, set={"wrapped": bytes([w[0] ^ 1]) + w[1:]})
    with pytest.raises(WrappedKeyError):
        env.decrypt(SUBJ, *LOC, blob)


def test_shred_is_immediate_across_instances(env, store, keys, key_dir, db_path, assert_clean):
    blob = env.encrypt(SUBJ, *LOC, SECRET)
    kept = env.encrypt(OTHER, *LOC, b"kept")
    # a second cipher, as another worker process would have, already used the key
    other_store = SQLiteStore(db_path)
    other = EnvelopeCipher(other_store, FileKeyProvider(key_dir))
    assert other.decrypt(SUBJ, *LOC, blob) == SECRET
    assert env.shred(SUBJ) is True
    for cipher in (env, other):
        with pytest.raises(DataKeyDestroyed) as info:
            cipher.decrypt(SUBJ, *LOC, blob)
        assert_clean(info.value, SECRET, SUBJ)
        with pytest.raises(DataKeyDestroyed):
            cipher.encrypt(SUBJ, *LOC, b"late redelivery")  # no resurrection
        with pytest.raises(DataKeyDestroyed):
            cipher.rewrap(SUBJ)
    assert other.decrypt(OTHER, *LOC, kept) == b"kept"
    record = store.get(DATA_KEYS, SUBJ)
    assert record["state"] == "destroyed"
    assert not {"wrapped", "nonce", "kek_id"} & set(record)
    assert env.shred(SUBJ) is False  # idempotent
    assert env.key_state(SUBJ) == "destroyed" and env.key_state(OTHER) == "active"
    other_store.close()


def test_shred_unknown_subject_leaves_tombstone(env):
    assert env.key_state("never-seen") == "none"
    assert env.shred("never-seen") is False
    with pytest.raises(DataKeyDestroyed):
        env.encrypt("never-seen", *LOC, b"x")


def test_decrypt_without_key_record(env):
    blob = env.encrypt(SUBJ, *LOC, SECRET)
    with pytest.raises(DataKeyDestroyed):
        env.decrypt("no-such-subject", *LOC, blob)


def test_kek_rotation_and_rewrap(env, store, keys, key_dir):
    old = env.encrypt(SUBJ, *LOC, SECRET)
    assert keys.rotate_kek() == "kek-2"
    new = env.encrypt(OTHER, *LOC, b"new")
    assert store.get(DATA_KEYS, OTHER)["kek_id"] == "kek-2"
    assert store.get(DATA_KEYS, SUBJ)["kek_id"] == "kek-1"
    assert env.decrypt(SUBJ, *LOC, old) == SECRET          # old data still readable
    assert env.rewrap(SUBJ) is True
    assert env.rewrap(SUBJ) is False
    assert store.get(DATA_KEYS, SUBJ)["kek_id"] == "kek-2"
    # once everything is rewrapped, retiring kek-1 loses nothing
    os.unlink(key_dir / "kek-1.key")
    fresh = EnvelopeCipher(store, FileKeyProvider(key_dir))
    assert fresh.decrypt(SUBJ, *LOC, old) == SECRET
    assert fresh.decrypt(OTHER, *LOC, new) == b"new"


def test_nothing_in_clear_in_the_database_file(env, store, db_path):
    marker = b"IIN-LIKE-CLEAR-MARKER-0123456789"
    store.insert("subjects", {"_id": "s-1", "iin_enc": env.encrypt(SUBJ, "subjects", "s-1", "iin_enc", marker)})
    store.close()
    raw = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name))
    assert marker not in raw


def test_argument_checks(env):
    with pytest.raises(TypeError):
        env.encrypt(SUBJ, *LOC, "text is not bytes")
    with pytest.raises(TypeError):
        env.encrypt("", *LOC, b"x")
    with pytest.raises(IntegrityError):
        env.decrypt(SUBJ, *LOC, b"not a blob")


def _first_use(db_path, key_dir, barrier, queue):
    store = SQLiteStore(db_path)
    env = EnvelopeCipher(store, FileKeyProvider(key_dir))
    barrier.wait()
    blob = env.encrypt("race-subject", "enrollments", "e-1", "templates", b"from %d" % os.getpid())
    queue.put((os.getpid(), blob))
    store.close()


def test_concurrent_first_use_two_processes_one_key(db_path, key_dir, store):
    ctx = mp.get_context("fork")
    for attempt in range(3):  # three independent races on fresh subjects
        subject = "race-subject"
        barrier, queue = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_first_use, args=(db_path, key_dir, barrier, queue)) for _ in range(2)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(30)
            assert p.exitcode == 0
        env = EnvelopeCipher(store, FileKeyProvider(key_dir))
        for pid, blob in results:  # both ciphertexts readable: both used the one stored key
            assert env.decrypt(subject, "enrollments", "e-1", "templates", blob) == b"from %d" % pid
        assert len(store.find(DATA_KEYS, {})) == 1
        store.delete(DATA_KEYS, {"_id": subject})


class _ShredBeforeUpdate:
    """Store proxy: a concurrent shred lands between rewrap's read and its write."""

    def __init__(self, store, shredder):
        self._store, self._shredder, self.fired = store, shredder, False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def update(self, collection, filter, set=None, **kw):
        if not self.fired and set and "wrapped" in set:
            self.fired = True
            assert self._shredder.shred(filter["_id"]) is True
        return self._store.update(collection, filter, set=set, **kw)


def test_shred_racing_rewrap_is_never_undone(store, keys, assert_clean):
    blob = EnvelopeCipher(store, keys).encrypt(SUBJ, *LOC, SECRET)
    keys.rotate_kek()
    proxy = _ShredBeforeUpdate(store, EnvelopeCipher(store, keys))
    with pytest.raises(DataKeyDestroyed):
        EnvelopeCipher(proxy, keys).rewrap(SUBJ)
    assert proxy.fired
    record = store.get(DATA_KEYS, SUBJ)
    assert record["state"] == "destroyed" and "wrapped" not in record
    with pytest.raises(DataKeyDestroyed):
        EnvelopeCipher(store, keys).decrypt(SUBJ, *LOC, blob)


def test_destroyed_state_wins_over_key_bytes(env, store):
    """Even if key bytes sit in a destroyed record (crash mid-race), nobody uses them."""
    blob = env.encrypt(SUBJ, *LOC, SECRET)
    store.update(DATA_KEYS, {"_id": SUBJ}, set={"state": "destroyed"})
    with pytest.raises(DataKeyDestroyed):
        env.decrypt(SUBJ, *LOC, blob)
    assert env.shred(SUBJ) is True  # and a shred wipes them
    assert "wrapped" not in store.get(DATA_KEYS, SUBJ)


def test_forget_destroys_a_transient_key_without_a_tombstone(env, store):
    blob = env.encrypt("job-req-1", "jobs", "req-1", "probe2", b"probe template")
    assert env.forget("job-req-1") is True
    assert store.get("data_keys", "job-req-1") is None      # nothing accumulates per request
    with pytest.raises(DataKeyDestroyed):
        env.decrypt("job-req-1", "jobs", "req-1", "probe2", blob)
    assert env.forget("job-req-1") is False
