"""open_store URIs, index declarations, and SQLite-only behaviour (file format, schema migration)."""
from __future__ import annotations

import sqlite3

import pytest

from papilla.shared.store import DuplicateKeyError, StoreError, open_store, parse_mongo_database
from papilla.shared.store import mongo as mongo_module
from papilla.shared.store.indexes import COLLECTIONS, IndexSpec, indexed_fields
from papilla.shared.store.sqlite import SQLiteStore
from papilla.shared.store.sqlite_sql import where_sql


def test_sqlite_uris(tmp_path, monkeypatch):
    absolute = tmp_path / "abs" / "papilla.sqlite3"
    with open_store(f"sqlite://{absolute}") as store:  # sqlite:///tmp/...
        assert isinstance(store, SQLiteStore) and store.path == absolute
        store.insert("senders", {"_id": "st1", "status": "ACTIVE", "kind": "station"})
    assert absolute.exists()
    with open_store(f"sqlite:///{absolute}") as store:  # four slashes, as config.py builds it
        assert store.path == absolute and store.get("senders", "st1") is not None
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:rel/papilla.sqlite3") as store:
        assert store.path.resolve() == tmp_path / "rel" / "papilla.sqlite3"
    with open_store(f"sqlite://{absolute}?synchronous=normal&busy_timeout=5") as store:
        assert store.get("senders", "st1") is not None
        assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with pytest.raises(ValueError, match="'nope'"):
        open_store(f"sqlite://{absolute}?nope=1")
    with pytest.raises(ValueError):
        open_store("sqlite://host/path")
    with pytest.raises(ValueError):
        open_store("sqlite:")


def test_mongodb_uris_pick_the_database(monkeypatch):
    opened = []
    monkeypatch.setattr(mongo_module, "MongoStore", lambda uri, database, **kw: opened.append((uri, database, kw)) or "s")
    assert open_store("mongodb://u:p@h1:27017,h2:27017/papilla_prod?replicaSet=rs0") == "s"
    assert open_store("mongodb+srv://cluster.example.kz") == "s"
    assert open_store("mongodb://h/p?w=1") == "s"
    assert open_store("mongodb://h/p?readConcernLevel=local") == "s"
    assert opened == [
        ("mongodb://u:p@h1:27017,h2:27017/papilla_prod?replicaSet=rs0", "papilla_prod", {}),
        ("mongodb+srv://cluster.example.kz", "papilla", {}),
        ("mongodb://h/p?w=1", "p", {"write_concern": None, "journal": None}),  # the URI's w applies
        ("mongodb://h/p?readConcernLevel=local", "p", {"read_concern": None}),  # and its read concern
    ]
    assert parse_mongo_database("mongodb://h/?w=majority") == "papilla"
    with pytest.raises(ValueError):
        parse_mongo_database("mongodb://h/bad.name")


def test_malformed_mongodb_uri_does_not_echo_credentials():
    with pytest.raises(ValueError) as caught:
        open_store("mongodb://admin:hunter2-secret@host:notaport/papilla")
    assert "hunter2" not in str(caught.value) and caught.value.__context__ is None


@pytest.mark.parametrize(
    "uri", ["postgres://admin:hunter2-secret@db.example/papilla", "hunter2-secret", "file:///hunter2-secret", ""]
)
def test_unsupported_uris_do_not_echo_credentials(uri):
    with pytest.raises(ValueError) as caught:
        open_store(uri)
    assert "hunter2" not in str(caught.value)


def test_declared_collections_and_indexes():
    assert set(COLLECTIONS) >= {
        "subjects", "enrollments", "biometrics", "gallery", "results",
        "senders", "dead_letters", "data_keys", "audit", "jobs",
    }
    specs = {(spec.collection, spec.fields, spec.unique, tuple((spec.partial or {}).items())) for c in COLLECTIONS.values() for spec in c}
    assert ("subjects", ("iin_hash",), True, ()) in specs
    assert ("enrollments", ("subject_id",), True, (("state", "ACTIVE"),)) in specs
    assert ("gallery", ("seq",), True, ()) in specs
    assert [(spec.fields, spec.expires) for spec in COLLECTIONS["data_keys"]] == [(("expire_at",), True)]
    assert indexed_fields("dead_letters") == ("queue", "reason", "created_at", "request_id", "state", "expire_at")
    assert indexed_fields("enrollments") == ("subject_id", "state", "created_at", "partner")
    with pytest.raises(ValueError):
        IndexSpec("jobs", ("bad field",))
    with pytest.raises(ValueError):
        IndexSpec("jobs", ("kind",), partial={"state": {"$in": ["A"]}})


def test_sqlite_file_uses_wal_and_indexes(tmp_path):
    path = tmp_path / "s.sqlite3"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SQLiteStore(path) as store:
        assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL by default
        indexes = {row[0]: row[1] for row in raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    active = indexes["enrollments.subject_id_1_unique_active"]
    assert active.startswith("CREATE UNIQUE INDEX") and "WHERE" in active and "'ACTIVE'" in active
    with SQLiteStore(path) as store, sqlite3.connect(path) as raw:  # the generated SQL is indexed
        for collection, filter in [("subjects", {"iin_hash": "x"}), ("gallery", {"seq": {"$gt": 5}}),
                                   ("enrollments", {"subject_id": "s", "state": "ACTIVE"})]:
            where, params = where_sql(collection, filter)
            plan = str(raw.execute(f'EXPLAIN QUERY PLAN SELECT doc FROM "{collection}"{where}', params).fetchall())
            assert "USING INDEX" in plan, (collection, plan)


def test_sqlite_adds_columns_for_an_index_declared_later(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite3"
    with SQLiteStore(path) as store:
        store.insert("jobs", {"_id": "j1", "kind": "k", "state": "s", "owner": "w1"})
        store.insert("jobs", {"_id": "j2", "kind": "k", "state": "s"})
    monkeypatch.setitem(COLLECTIONS, "jobs", COLLECTIONS["jobs"] + (IndexSpec("jobs", ("owner",)),))
    with SQLiteStore(path) as store:
        assert [d["_id"] for d in store.find("jobs", {"owner": "w1"})] == ["j1"]
        assert [d["_id"] for d in store.find("jobs", {"owner": None})] == ["j2"]
    monkeypatch.undo()
    with SQLiteStore(path) as store, sqlite3.connect(path) as raw:  # the undeclared index and columns go
        names = [row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
        assert "jobs.owner_1" not in names
        assert "f:owner" not in [row[1] for row in raw.execute('PRAGMA table_info("jobs")')]
        store.update("jobs", {"_id": "j2"}, set={"owner": "w2"})  # not materialized while unindexed
    monkeypatch.setitem(COLLECTIONS, "jobs", COLLECTIONS["jobs"] + (IndexSpec("jobs", ("owner",), unique=True),))
    with SQLiteStore(path) as store:  # re-indexed later: backfilled again, unique now enforced
        assert [d["_id"] for d in store.find("jobs", {"owner": "w2"})] == ["j2"]
        with pytest.raises(DuplicateKeyError):
            store.insert("jobs", {"_id": "j3", "kind": "k", "state": "s", "owner": "w1"})


def test_sqlite_refuses_a_new_unique_index_that_existing_data_violates(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite3"
    with SQLiteStore(path) as store:
        store.insert("jobs", {"_id": "j1", "kind": "same", "state": "s"})
        store.insert("jobs", {"_id": "j2", "kind": "same", "state": "s"})
    monkeypatch.setitem(COLLECTIONS, "jobs", (IndexSpec("jobs", ("kind",), unique=True), IndexSpec("jobs", ("state",))))
    with pytest.raises(StoreError, match="kind_1_unique"):
        SQLiteStore(path)


def test_two_sqlite_stores_on_one_file_see_each_other(tmp_path):
    path = tmp_path / "s.sqlite3"
    with SQLiteStore(path) as first, SQLiteStore(path) as second:
        first.insert("senders", {"_id": "st1", "status": "ACTIVE", "kind": "station"})
        assert second.get("senders", "st1")["status"] == "ACTIVE"
        assert second.update("senders", {"_id": "st1", "status": "ACTIVE"}, set={"status": "REVOKED"}) == 1
        assert first.update("senders", {"_id": "st1", "status": "ACTIVE"}, set={"status": "BLOCKED"}) == 0
        assert first.next_sequence("x") == 1 and second.next_sequence("x") == 2
