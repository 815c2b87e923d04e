"""Expiry of operational data (TTL): declared in indexes.py, a TTL index on MongoDB, a sweep on SQLite.

The contract part runs on SQLite and, with PAPILLA_MONGO_URI, on a real MongoDB; the MongoDB index
spec and date conversion are checked on mongomock; the writers (results, dead letters, request
jobs and their keys) are checked for the stamps they write.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dramatiq
import mongomock
import pytest

from papilla.cli import main
from papilla.shared import deadletters
from papilla.shared.config import OperationalRetention, Settings, operational_retention
from papilla.shared.crypto.envelope import DATA_KEYS, EnvelopeCipher
from papilla.shared.crypto.keys import FileKeyProvider
from papilla.shared.messages import Result
from papilla.shared.results import MemoryResultSink, deliver
from papilla.shared.store import InvalidDocument, UnsupportedQuery, open_store
from papilla.shared.store.expiry import delete_expired, expires_after, expiry_stamp
from papilla.shared.store.indexes import COLLECTIONS, expiring_collections
from papilla.shared.store.mongo import MongoStore
from papilla.shared.store.sqlite import SQLiteStore

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
PAST, FUTURE = expiry_stamp(NOW - timedelta(seconds=1)), expiry_stamp(NOW + timedelta(days=1))
#: Records under a legal retention (Law 003 Art.15-17, Rules 395/406): ended by an act, never by expiry.
LEGAL = {"subjects", "enrollments", "biometrics", "templates", "gallery", "audit", "audit_meta", "retention",
         "retention_events", "destruction_acts", "access_requests", "transfers", "senders", "consents"}


def test_only_operational_collections_expire():
    assert set(expiring_collections()) == {"results", "jobs", "dead_letters", "data_keys"}
    assert not LEGAL & set(expiring_collections())
    assert LEGAL | set(expiring_collections()) == set(COLLECTIONS)   # a new collection must be classified here


def test_expired_documents_are_swept_and_the_rest_stay(store):
    store.insert("results", {"_id": "old", "published": True, "expire_at": PAST})
    store.insert("results", {"_id": "new", "published": True, "expire_at": FUTURE})
    store.insert("results", {"_id": "forever", "published": True})
    store.insert("jobs", {"_id": "stale-job", "kind": "verify", "state": "pending", "expire_at": PAST})
    store.insert("jobs", {"_id": "kek-rotation", "kind": "rotation", "state": "running", "expire_at": None})
    store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "ACTIVE", "created_at": PAST})
    swept = delete_expired(store, NOW)
    assert swept == {"results": 1, "jobs": 1, "dead_letters": 0, "data_keys": 0}
    assert {d["_id"] for d in store.find("results", {})} == {"new", "forever"}
    assert [d["_id"] for d in store.find("jobs", {})] == ["kek-rotation"]
    assert store.get("enrollments", "e1") is not None
    assert delete_expired(store, NOW + timedelta(days=2))["results"] == 1   # "new" in its turn
    assert store.get("results", "forever") is not None


def test_stamp_round_trips_exactly_and_filters_and_sorts_as_time(store):
    stamps = [expiry_stamp(NOW + timedelta(hours=h)) for h in (5, -3, 40)]
    for n, stamp in enumerate(stamps):
        store.insert("results", {"_id": f"r{n}", "expire_at": stamp})
    assert store.get("results", "r0")["expire_at"] == stamps[0]
    ordered = store.find("results", {"expire_at": {"$gt": expiry_stamp(NOW)}}, sort=[("expire_at", 1)])
    assert [d["expire_at"] for d in ordered] == [stamps[0], stamps[2]]
    assert store.update("results", {"_id": "r1"}, set={"expire_at": FUTURE}) == 1
    assert store.find_one("results", {"expire_at": FUTURE})["_id"] == "r1"


@pytest.mark.parametrize("bad", ["2026-12-01T12:00:00+00:00", "2026-12-01", "2026-13-01T12:00:00Z", 1764590400])
def test_an_expiry_field_holds_a_stamp_or_nothing(store, bad):
    with pytest.raises(InvalidDocument):
        store.insert("results", {"_id": "r", "expire_at": bad})
    store.insert("results", {"_id": "r", "expire_at": FUTURE})
    with pytest.raises(InvalidDocument):
        store.update("results", {"_id": "r"}, set={"expire_at": bad})
    assert store.get("results", "r")["expire_at"] == FUTURE
    if isinstance(bad, str):
        with pytest.raises(UnsupportedQuery, match="expire_at"):
            store.find("results", {"expire_at": {"$lt": bad}})


def test_sqlite_sweeps_at_start_up(tmp_path):
    path = tmp_path / "s.sqlite3"
    with SQLiteStore(path) as store:
        store.insert("dead_letters", {"_id": "d1", "queue": "q", "state": "dead", "expire_at": expires_after(-1)})
        store.insert("dead_letters", {"_id": "d2", "queue": "q", "state": "dead", "expire_at": expires_after(1)})
    with SQLiteStore(path) as reopened:
        assert [d["_id"] for d in reopened.find("dead_letters", {})] == ["d2"]


def test_papilla_store_expire_sweeps_the_store_and_the_key_vault(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    settings = Settings.from_env()
    with open_store(settings.store_uri) as store, open_store(settings.key_vault_uri) as vault:
        store.insert("results", {"_id": "r1", "expire_at": expires_after(-1)})
        store.insert("results", {"_id": "r2", "expire_at": expires_after(1)})
        vault.insert(DATA_KEYS, {"_id": "job-r1", "state": "active", "expire_at": expires_after(-1)})
    assert main(["store", "expire"]) == 0
    assert capsys.readouterr().out.splitlines() == ["store: expired results 1", "key vault: expired data_keys 1",
                                                    "2 expired record(s) deleted"]
    with open_store(settings.store_uri) as store, open_store(settings.key_vault_uri) as vault:
        assert [d["_id"] for d in store.find("results", {})] == ["r2"] and vault.get(DATA_KEYS, "job-r1") is None


# ----------------------------------------------------------------- MongoDB (mongomock)


@pytest.fixture
def mongo():
    client = mongomock.MongoClient()
    with MongoStore("mongodb://unused", "papilla_ttl", client=client) as opened:
        yield opened, client["papilla_ttl"]


def test_mongodb_gets_a_ttl_index_on_a_bson_date(mongo):
    store, database = mongo
    for collection in expiring_collections():
        info = database[collection].index_information()["expire_at_1_ttl"]
        assert info["key"] == [("expire_at", 1)] and info["expireAfterSeconds"] == 0
    for collection in LEGAL:
        assert not any("expireAfterSeconds" in i for i in database[collection].index_information().values())
    soon, later = expires_after(1), expires_after(2)
    store.insert("results", {"_id": "r1", "expire_at": soon})
    store.update("results", {"_id": "r2"}, set={"published": False}, upsert_doc={"_id": "r2", "expire_at": later})
    raw = database["results"].find_one({"_id": "r1"})["expire_at"]
    assert raw == datetime.strptime(soon, "%Y-%m-%dT%H:%M:%SZ")   # a date the TTL monitor acts on, not a string
    assert isinstance(database["results"].find_one({"_id": "r2"})["expire_at"], datetime)
    assert store.get("results", "r1")["expire_at"] == soon
    assert [d["expire_at"] for d in store.find("results", {"expire_at": {"$in": [soon, later]}})] == [soon, later]
    assert store.count("results", {"expire_at": {"$lt": later}}) == 1
    assert delete_expired(store, datetime.now(timezone.utc) + timedelta(days=1, minutes=1))["results"] == 1
    assert [d["_id"] for d in store.find("results", {})] == ["r2"]
    store.insert("results", {"_id": "r3", "expire_at": expires_after(-1)})
    assert store.get("results", "r3") is None   # mongomock emulates the TTL monitor: the BSON date is honoured


# ----------------------------------------------------------------- writers


def _days_from_now(stamp: str) -> float:
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (moment - datetime.now(timezone.utc)).total_seconds() / 86400


def test_results_expire_after_their_retention(tmp_path):
    with SQLiteStore(tmp_path / "s.sqlite3") as store:
        deliver(store, MemoryResultSink(), Result(request_id="req-1", kind="verify", status="NO_MATCH"), "svc-1")
        assert _days_from_now(store.get("results", "req-1")["expire_at"]) == pytest.approx(30, abs=0.01)


def test_dead_letters_and_their_body_keys_expire(tmp_path):
    retention = operational_retention()
    with SQLiteStore(tmp_path / "s.sqlite3") as store, SQLiteStore(tmp_path / "vault.sqlite3") as vault:
        cipher = EnvelopeCipher(vault, FileKeyProvider(tmp_path / "keys"))
        message = dramatiq.Message(queue_name="papilla.enroll", actor_name="extract_enrollment", args=("sealed",),
                                   kwargs={}, options={})
        deadletters.record(store, cipher, message, reason="bad_image", detail="finger 2")
        letter = store.get("dead_letters", message.message_id)
        key = vault.get(DATA_KEYS, deadletters.dead_letter_key(message.message_id))
        assert _days_from_now(letter["expire_at"]) == pytest.approx(retention.dead_letter_days, abs=0.01)
        assert _days_from_now(key["expire_at"]) == pytest.approx(retention.dead_letter_body_days, abs=0.01)
        cipher.encrypt("subject-1", "biometrics", "e1", "image", b"x")   # a person's key: no expiry
        assert "expire_at" not in vault.get(DATA_KEYS, "subject-1")
        later = datetime.now(timezone.utc) + timedelta(days=retention.dead_letter_body_days, seconds=1)
        assert delete_expired(vault, later)[DATA_KEYS] == 1   # the body is shredded, the person's key stays
        with pytest.raises(deadletters.NotRequeueable, match="expired"):
            deadletters.requeue(store, cipher, None, message.message_id)
        assert vault.get(DATA_KEYS, "subject-1") is not None


def test_retention_is_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("PAPILLA_RESULTS_RETENTION_DAYS", "90")
    monkeypatch.setenv("PAPILLA_DEAD_LETTER_BODY_RETENTION_DAYS", "14")
    assert OperationalRetention.from_env() == OperationalRetention(results_days=90, dead_letter_body_days=14)
    monkeypatch.setenv("PAPILLA_JOBS_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="PAPILLA_JOBS_RETENTION_DAYS"):
        OperationalRetention.from_env()
