"""MongoStore code paths on mongomock (index creation, insert/update/find, error wrapping).

mongomock is slow and incomplete, so this only exercises the pymongo calls; the
real-MongoDB run of test_store_contract.py (PAPILLA_MONGO_URI) proves the semantics.
"""
from __future__ import annotations

import mongomock
import pytest

from papilla.shared.store import DuplicateKeyError, StoreError, UnsupportedQuery
from papilla.shared.store.indexes import COLLECTIONS
from papilla.shared.store.mongo import MongoStore, partial_filter_of

MONGOMOCK_NO_INDEX_NAME = "mongomock's DuplicateKeyError carries no index name or key pattern (real MongoDB does)"


@pytest.fixture
def client():
    return mongomock.MongoClient()


@pytest.fixture
def store(client):
    with MongoStore("mongodb://unused", "papilla_unit", client=client) as opened:
        yield opened


def test_ensure_indexes_creates_declared_indexes_idempotently(client, store):
    store.ensure_indexes()  # second run: no error, no change
    database = client["papilla_unit"]
    for collection, specs in COLLECTIONS.items():
        info = database[collection].index_information()
        for spec in specs:
            assert info[spec.name]["key"] == [(path, 1) for path in spec.fields]
            assert bool(info[spec.name].get("unique")) == spec.unique
            assert info[spec.name].get("partialFilterExpression") == partial_filter_of(spec)
    active = database["enrollments"].index_information()["subject_id_1_unique_active"]
    assert active["partialFilterExpression"] == {"state": "ACTIVE", "subject_id": {"$exists": True}}
    assert database["subjects"].index_information()["iin_hash_1_unique"]["partialFilterExpression"] == {
        "iin_hash": {"$exists": True}
    }


def test_insert_get_find_update_delete(store):
    store.insert("subjects", {"_id": "s1", "iin_hash": "h1", "key": b"\x00\x01", "meta": {"n": [1, 2]}})
    assert store.get("subjects", "s1") == {"_id": "s1", "iin_hash": "h1", "key": b"\x00\x01", "meta": {"n": [1, 2]}}
    assert isinstance(store.get("subjects", "s1")["key"], bytes)
    for n in range(1, 5):
        store.insert("gallery", {"_id": f"e{n}", "subject_id": "s1", "seq": n})
    assert [d["_id"] for d in store.find("gallery", {"seq": {"$gt": 1}}, sort=[("seq", -1)], limit=2)] == ["e4", "e3"]
    assert store.count("gallery", {"seq": {"$in": [1, 2, 9]}}) == 2
    assert store.find_one("gallery", {"seq": 3})["_id"] == "e3"
    assert store.update("gallery", {"_id": "e1", "seq": 1}, set={"flag": True}, inc={"hits": 2}) == 1
    assert store.update("gallery", {"_id": "e1", "seq": 99}, set={"flag": False}) == 0
    assert store.get("gallery", "e1") == {"_id": "e1", "subject_id": "s1", "seq": 1, "flag": True, "hits": 2}
    assert store.update("gallery", {"_id": "e1"}, unset=["flag"]) == 1
    assert "flag" not in store.get("gallery", "e1")
    assert store.delete("gallery", {"seq": {"$lte": 2}}) == 2
    assert store.count("gallery", {}) == 2


def test_upsert_and_sequences(store):
    assert store.update("results", {"_id": "r1"}, set={"status": "DONE"}, upsert_doc={"_id": "r1", "published": False}) == 0
    assert store.get("results", "r1") == {"_id": "r1", "published": False, "status": "DONE"}
    assert store.update("results", {"_id": "r1"}, set={"status": "AGAIN"}, upsert_doc={"_id": "r1"}) == 1
    assert [store.next_sequence("audit") for _ in range(3)] == [1, 2, 3]
    assert store.next_sequence("other") == 1


def test_duplicates_become_store_errors_without_values(store):
    store.insert("subjects", {"_id": "s1", "iin_hash": "SECRET-HASH"})
    with pytest.raises(DuplicateKeyError) as caught:
        store.insert("subjects", {"_id": "s2", "iin_hash": "SECRET-HASH"})
    assert caught.value.collection == "subjects"
    assert "SECRET-HASH" not in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None  # pymongo's message dropped
    with pytest.raises(DuplicateKeyError):
        store.insert("subjects", {"_id": "s1"})


def test_duplicate_error_names_the_index(store):
    store.insert("subjects", {"_id": "s1", "iin_hash": "h"})
    with pytest.raises(DuplicateKeyError) as caught:
        store.insert("subjects", {"_id": "s2", "iin_hash": "h"})
    if caught.value.index == "unknown":
        pytest.skip(MONGOMOCK_NO_INDEX_NAME)
    assert caught.value.index == "iin_hash_1_unique"


def test_partial_unique_index_for_active_enrollments(store):
    store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "ACTIVE"})
    store.insert("enrollments", {"_id": "e2", "subject_id": "s1", "state": "ARCHIVED"})
    with pytest.raises(DuplicateKeyError):
        store.insert("enrollments", {"_id": "e3", "subject_id": "s1", "state": "ACTIVE"})
    with pytest.raises(DuplicateKeyError):
        store.update("enrollments", {"_id": "e2", "state": "ARCHIVED"}, set={"state": "ACTIVE"})
    assert store.get("enrollments", "e2")["state"] == "ARCHIVED"


def test_server_errors_are_wrapped(store, client, monkeypatch):
    from pymongo.errors import OperationFailure

    def fail(*args, **kwargs):
        raise OperationFailure("Cannot apply $inc to {_id: 'SECRET-ID'}", code=14)

    store.insert("jobs", {"_id": "SECRET-ID", "kind": "k", "state": "s"})
    monkeypatch.setattr(mongomock.collection.Collection, "update_one", fail)
    with pytest.raises(StoreError) as caught:
        store.update("jobs", {"_id": "SECRET-ID"}, inc={"n": 1})
    assert "SECRET-ID" not in str(caught.value) and "code 14" in str(caught.value)
    assert caught.value.__context__ is None


def test_queries_are_validated_before_reaching_mongodb(store):
    with pytest.raises(UnsupportedQuery, match="'name'"):
        store.find("subjects", {"name": "x"})
    with pytest.raises(UnsupportedQuery):
        store.update("enrollments", {"state": "ACTIVE"}, set={"state": "ARCHIVED"})


def test_reads_default_to_read_concern_majority(client):
    """(mongomock's Database has no write_concern attribute: the write concern is checked on a real server.)"""
    from pymongo.read_concern import ReadConcern

    with MongoStore("mongodb://unused", "papilla_unit", client=client, ensure_indexes=False) as opened:
        assert opened._db().read_concern == ReadConcern("majority")
    with MongoStore("mongodb://unused", "papilla_unit_uri", client=client, ensure_indexes=False,
                    read_concern=None) as from_uri:   # the URI's readConcernLevel applies
        assert from_uri._db().read_concern == ReadConcern()


def test_closed_store(client):
    opened = MongoStore("mongodb://unused", "papilla_unit", client=client, ensure_indexes=False)
    opened.close()
    with pytest.raises(StoreError):
        opened.get("subjects", "s1")


def test_index_name_is_read_from_a_real_server_error():
    """The E11000 message format of a real server: the index is named, the value is not copied."""
    from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError

    message = 'E11000 duplicate key error collection: p.subjects index: iin_hash_1_unique dup key: { iin_hash: "SECRET" }'
    details = {"code": 11000, "errmsg": message, "keyPattern": {"iin_hash": 1}, "keyValue": {"iin_hash": "SECRET"}}
    error = MongoStore._duplicate_index("subjects", MongoDuplicateKeyError(message, 11000, details))
    assert error == "iin_hash_1_unique"
    id_message = 'E11000 duplicate key error collection: p.subjects index: _id_ dup key: { _id: "s1" }'
    assert MongoStore._duplicate_index("subjects", MongoDuplicateKeyError(id_message, 11000, {"errmsg": id_message})) == "_id"
    bare = MongoDuplicateKeyError("E11000", 11000, {"keyPattern": {"iin_hash": 1}})
    assert MongoStore._duplicate_index("subjects", bare) == "iin_hash_1_unique"
