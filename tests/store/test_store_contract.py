"""The store contract: every test runs on SQLite, and on MongoDB when PAPILLA_MONGO_URI is set."""
from __future__ import annotations

import multiprocessing
import threading
import traceback

import pytest
from tests.helpers.store_workers import draw_sequence, try_transition

from papilla.shared.store import DuplicateKeyError, InvalidDocument, StoreError, UnknownCollection, UnsupportedQuery

SECRET_IIN_HASH = "iin-hash-7f3a9c-PERSONAL"  # a value that must never appear in an error


def all_error_text(exc: BaseException) -> str:
    """Everything a log line or traceback of `exc` could show."""
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(getattr(exc, "__context__", None))


# ------------------------------------------------------------------ round trip


def test_insert_get_round_trip_with_bytes_and_nested(store):
    doc = {
        "_id": "s1",
        "iin_hash": "h1",
        "template": b"\x00\xffbinary\x00",
        "profile": {"names": ["A", "B"], "scores": {"left": 0.5, "right": 97}, "photo": b"\x01\x02"},
        "flags": [True, False, None, 3, 2.5, b"x"],
        "absent": None,
    }
    assert store.insert("subjects", doc) is None
    got = store.get("subjects", "s1")
    assert got == doc
    assert isinstance(got["template"], bytes)
    assert isinstance(got["profile"]["photo"], bytes)
    assert isinstance(got["flags"][5], bytes)


def test_int_ids_and_missing_documents(store):
    store.insert("audit", {"_id": 1, "subject_id": "s1", "action": "ENROLL"})
    store.insert("audit", {"_id": 2, "subject_id": "s1", "action": "BLOCK"})
    assert store.get("audit", 2)["action"] == "BLOCK"
    assert store.get("audit", 3) is None
    assert store.get("audit", "1") is None  # type matters: "1" is not 1
    assert store.find_one("audit", {"action": "NOPE"}) is None
    assert [d["_id"] for d in store.find("audit", {"_id": {"$gt": 1}})] == [2]


def test_invalid_documents_are_refused(store):
    import datetime

    with pytest.raises(InvalidDocument):
        store.insert("subjects", {"iin_hash": "no id"})
    with pytest.raises(InvalidDocument):
        store.insert("subjects", {"_id": "s1", "at": datetime.datetime(2024, 1, 1)})
    with pytest.raises(InvalidDocument):
        store.insert("subjects", {"_id": "s1", "big": 2**64})
    with pytest.raises(InvalidDocument):
        store.insert("subjects", {"_id": "s1", "iin_hash": ["lists", "are not indexable"]})
    with pytest.raises(InvalidDocument):
        store.insert("subjects", {"_id": "s1", "$bad": 1})
    with pytest.raises(UnknownCollection):
        store.insert("not_declared", {"_id": "x"})
    assert store.count("subjects", {}) == 0


# ------------------------------------------------------------- unique indexes


def test_duplicate_id_is_refused(store):
    store.insert("subjects", {"_id": "s1", "iin_hash": "h1"})
    with pytest.raises(DuplicateKeyError) as caught:
        store.insert("subjects", {"_id": "s1", "iin_hash": "h2"})
    assert caught.value.collection == "subjects"
    assert caught.value.index == "_id"
    assert store.get("subjects", "s1")["iin_hash"] == "h1"


def test_unique_index_and_error_never_names_the_value(store):
    store.insert("subjects", {"_id": "s1", "iin_hash": SECRET_IIN_HASH})
    with pytest.raises(DuplicateKeyError) as caught:
        store.insert("subjects", {"_id": "s2", "iin_hash": SECRET_IIN_HASH})
    assert caught.value.collection == "subjects"
    assert caught.value.index == "iin_hash_1_unique"
    assert "subjects" in str(caught.value) and "iin_hash_1_unique" in str(caught.value)
    assert SECRET_IIN_HASH not in all_error_text(caught.value)
    assert store.get("subjects", "s2") is None

    store.insert("subjects", {"_id": "s3", "iin_hash": "other"})
    with pytest.raises(DuplicateKeyError) as caught:
        store.update("subjects", {"_id": "s3"}, set={"iin_hash": SECRET_IIN_HASH})
    assert caught.value.index == "iin_hash_1_unique"
    assert SECRET_IIN_HASH not in all_error_text(caught.value)
    assert store.get("subjects", "s3")["iin_hash"] == "other"


def test_unique_index_skips_missing_field_but_not_explicit_none(store):
    """Decided semantics: a missing field never conflicts; an explicit None is a value and does."""
    store.insert("subjects", {"_id": "s1"})
    store.insert("subjects", {"_id": "s2"})
    store.insert("subjects", {"_id": "s3", "iin_hash": None})
    with pytest.raises(DuplicateKeyError):
        store.insert("subjects", {"_id": "s4", "iin_hash": None})
    assert store.count("subjects", {"iin_hash": None}) == 3  # None matches missing and explicit None


def test_unique_index_distinguishes_types(store):
    store.insert("gallery", {"_id": "e1", "subject_id": "s1", "seq": 1})
    store.insert("gallery", {"_id": "e2", "subject_id": "s2", "seq": "1"})
    store.insert("gallery", {"_id": "e3", "subject_id": "s3", "seq": True})
    with pytest.raises(DuplicateKeyError):
        store.insert("gallery", {"_id": "e4", "subject_id": "s4", "seq": 1.0})  # 1.0 == 1 for numbers


def test_one_active_enrollment_per_subject(store):
    store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "ACTIVE"})
    store.insert("enrollments", {"_id": "e2", "subject_id": "s1", "state": "ARCHIVED"})
    store.insert("enrollments", {"_id": "e3", "subject_id": "s1", "state": "PENDING_REVIEW"})
    store.insert("enrollments", {"_id": "e4", "subject_id": "s2", "state": "ACTIVE"})
    with pytest.raises(DuplicateKeyError) as caught:
        store.insert("enrollments", {"_id": "e5", "subject_id": "s1", "state": "ACTIVE"})
    assert caught.value.index == "subject_id_1_unique_active"
    assert "s1" not in str(caught.value)
    with pytest.raises(DuplicateKeyError):
        store.update("enrollments", {"_id": "e3", "state": "PENDING_REVIEW"}, set={"state": "ACTIVE"})
    assert store.get("enrollments", "e3")["state"] == "PENDING_REVIEW"
    assert store.count("enrollments", {"subject_id": "s1", "state": "ACTIVE"}) == 1

    # Re-enrollment: archive the active one (pinned by the partial unique index), then activate.
    assert store.update("enrollments", {"subject_id": "s1", "state": "ACTIVE"}, set={"state": "ARCHIVED"}) == 1
    assert store.update("enrollments", {"_id": "e3", "state": "PENDING_REVIEW"}, set={"state": "ACTIVE"}) == 1
    assert store.find_one("enrollments", {"subject_id": "s1", "state": "ACTIVE"})["_id"] == "e3"


def test_upsert_refused_when_it_would_break_a_unique_index(store):
    store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "ACTIVE"})
    with pytest.raises(DuplicateKeyError):
        store.update(
            "enrollments", {"_id": "e2"}, set={"state": "ACTIVE"}, upsert_doc={"_id": "e2", "subject_id": "s1"}
        )
    assert store.get("enrollments", "e2") is None


# -------------------------------------------------------------------- updates


def test_compare_and_set_second_transition_loses(store):
    store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "PENDING"})
    assert store.update("enrollments", {"_id": "e1", "state": "PENDING"}, set={"state": "ACTIVE", "by": "a"}) == 1
    assert store.update("enrollments", {"_id": "e1", "state": "PENDING"}, set={"state": "REJECTED", "by": "b"}) == 0
    assert store.get("enrollments", "e1") == {"_id": "e1", "subject_id": "s1", "state": "ACTIVE", "by": "a"}
    assert store.update("enrollments", {"_id": "missing"}, set={"state": "ACTIVE"}) == 0


def test_compare_and_set_race_between_threads(store):
    store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "PENDING"})
    start = threading.Barrier(6)
    outcomes: list[int] = []

    def attempt(worker: int) -> None:
        start.wait()
        outcomes.append(store.update("enrollments", {"_id": "e1", "state": "PENDING"}, set={"state": "ACTIVE", "by": worker}))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [0, 0, 0, 0, 0, 1]


def test_update_filter_must_pin_one_document(store):
    store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "PENDING"})
    with pytest.raises(UnsupportedQuery):
        store.update("enrollments", {"state": "PENDING"}, set={"state": "ACTIVE"})
    with pytest.raises(UnsupportedQuery):  # subject_id is unique only among ACTIVE enrollments
        store.update("enrollments", {"subject_id": "s1"}, set={"state": "ACTIVE"})
    with pytest.raises(UnsupportedQuery):
        store.update("enrollments", {"_id": {"$in": ["e1"]}}, set={"state": "ACTIVE"})
    store.insert("subjects", {"_id": "s1", "iin_hash": "h1"})
    assert store.update("subjects", {"iin_hash": "h1"}, set={"blocked": True}) == 1
    assert store.get("subjects", "s1")["blocked"] is True


def test_set_unset_inc_and_dotted_paths(store):
    store.insert("jobs", {"_id": "j1", "kind": "sweep", "state": "NEW", "stats": {"done": 1}, "tmp": "x"})
    matched = store.update(
        "jobs", {"_id": "j1"}, set={"state": "RUNNING", "stats.owner": "w1"}, unset=["tmp"], inc={"stats.done": 2, "tries": 1}
    )
    assert matched == 1
    assert store.get("jobs", "j1") == {
        "_id": "j1", "kind": "sweep", "state": "RUNNING", "stats": {"done": 3, "owner": "w1"}, "tries": 1,
    }
    store.update("jobs", {"_id": "j1"}, inc={"tries": 1, "stats.done": -0.5})
    assert store.get("jobs", "j1")["tries"] == 2
    assert store.get("jobs", "j1")["stats"]["done"] == 2.5
    assert store.find("jobs", {"state": "RUNNING"})[0]["_id"] == "j1"  # indexed field re-materialized


def test_invalid_updates_are_refused(store):
    store.insert("jobs", {"_id": "j1", "kind": "sweep", "state": "NEW"})
    with pytest.raises(StoreError):
        store.update("jobs", {"_id": "j1"}, inc={"state": 1})  # not a number
    with pytest.raises(UnsupportedQuery):
        store.update("jobs", {"_id": "j1"}, set={"_id": "j2"})
    with pytest.raises(UnsupportedQuery):
        store.update("jobs", {"_id": "j1"}, set={"a": 1}, inc={"a": 1})
    with pytest.raises(UnsupportedQuery):
        store.update("jobs", {"_id": "j1"}, inc={"n": "1"})
    with pytest.raises(InvalidDocument):
        store.update("jobs", {"_id": "j1"}, set={"state": {"nested": "no"}})
    assert store.get("jobs", "j1") == {"_id": "j1", "kind": "sweep", "state": "NEW"}


def test_upsert(store):
    new = {"_id": "r1", "reply_to": "svc.a", "published": False}
    assert store.update("results", {"_id": "r1"}, set={"status": "DONE"}, inc={"attempts": 1}, upsert_doc=new) == 0
    assert store.get("results", "r1") == {**new, "status": "DONE", "attempts": 1}
    assert store.update("results", {"_id": "r1"}, set={"status": "AGAIN"}, inc={"attempts": 1}, upsert_doc=new) == 1
    assert store.get("results", "r1") == {**new, "status": "AGAIN", "attempts": 2}
    # The filter does not match the existing document: the insert collides on _id.
    with pytest.raises(DuplicateKeyError) as caught:
        store.update("results", {"_id": "r1", "published": True}, set={"status": "X"}, upsert_doc=new)
    assert caught.value.index == "_id"
    assert store.get("results", "r1")["status"] == "AGAIN"
    # Nothing to modify: a plain insert-if-absent.
    assert store.update("results", {"_id": "r2"}, upsert_doc={"_id": "r2", "published": False}) == 0
    assert store.update("results", {"_id": "r2"}, upsert_doc={"_id": "r2", "published": True}) == 1
    assert store.get("results", "r2") == {"_id": "r2", "published": False}


# ---------------------------------------------------------------- find, delete


def _gallery(store, count: int = 6) -> None:
    for n in range(1, count + 1):
        store.insert("gallery", {"_id": f"e{n}", "subject_id": f"s{n % 3}", "seq": n * 10})


def test_find_with_in_ranges_sort_and_limit(store):
    _gallery(store)
    ids = lambda docs: [d["_id"] for d in docs]  # noqa: E731
    assert sorted(ids(store.find("gallery", {"subject_id": {"$in": ["s1", "s2"]}}))) == ["e1", "e2", "e4", "e5"]
    assert ids(store.find("gallery", {"seq": {"$gt": 30}}, sort=[("seq", 1)])) == ["e4", "e5", "e6"]
    assert ids(store.find("gallery", {"seq": {"$gte": 20, "$lt": 50}}, sort=[("seq", -1)])) == ["e4", "e3", "e2"]
    assert ids(store.find("gallery", {"seq": {"$lte": 20}}, sort=[("_id", -1)])) == ["e2", "e1"]
    assert ids(store.find("gallery", {}, sort=[("seq", -1)], limit=2)) == ["e6", "e5"]
    assert ids(store.find("gallery", {"subject_id": "s0", "seq": {"$ne": 30}})) == ["e6"]
    assert store.find("gallery", {}, limit=0) == []
    assert store.find("gallery", {"subject_id": {"$in": []}}) == []
    assert store.count("gallery", {}) == 6
    assert store.count("gallery", {"subject_id": "s0"}) == 2
    assert store.find_one("gallery", {"seq": 40})["_id"] == "e4"
    assert ids(store.find("gallery", {"_id": {"$in": ["e1", "e3", "nope"]}}, sort=[("_id", 1)])) == ["e1", "e3"]


def test_comparisons_follow_mongodb_type_rules(store):
    store.insert("results", {"_id": "r1", "reply_to": "a", "published": False})
    store.insert("results", {"_id": "r2", "reply_to": "b", "published": 0})
    store.insert("results", {"_id": "r3", "reply_to": 5, "published": True})
    store.insert("results", {"_id": "r4", "published": None})
    store.insert("results", {"_id": "r5"})
    ids = lambda docs: sorted(d["_id"] for d in docs)  # noqa: E731
    assert ids(store.find("results", {"published": False})) == ["r1"]  # False is not 0
    assert ids(store.find("results", {"published": 0})) == ["r2"]
    assert ids(store.find("results", {"published": None})) == ["r4", "r5"]  # None matches missing
    assert ids(store.find("results", {"published": {"$ne": None}})) == ["r1", "r2", "r3"]
    assert ids(store.find("results", {"published": {"$ne": False}})) == ["r2", "r3", "r4", "r5"]
    assert ids(store.find("results", {"reply_to": {"$gt": "0"}})) == ["r1", "r2"]  # strings only
    assert ids(store.find("results", {"reply_to": {"$gte": 0}})) == ["r3"]  # numbers only
    assert ids(store.find("results", {"reply_to": {"$in": [5, "b", None]}})) == ["r2", "r3", "r4", "r5"]
    assert ids(store.find("results", {"published": {"$gt": None}})) == []
    assert ids(store.find("results", {"published": {"$gte": None}})) == ["r4", "r5"]


def test_delete(store):
    _gallery(store)
    assert store.delete("gallery", {"_id": "e1"}) == 1
    assert store.delete("gallery", {"_id": "e1"}) == 0
    assert store.delete("gallery", {"subject_id": "s2"}) == 2
    assert store.count("gallery", {}) == 3
    assert store.delete("gallery", {}) == 3
    assert store.count("gallery", {}) == 0


def test_unsupported_queries_name_the_field(store):
    _gallery(store, 2)
    with pytest.raises(UnsupportedQuery, match="'name'"):
        store.find("gallery", {"name": "x"})
    with pytest.raises(UnsupportedQuery, match="'name'"):
        store.count("gallery", {"name": {"$gt": 1}})
    with pytest.raises(UnsupportedQuery, match="'name'"):
        store.delete("gallery", {"name": "x"})
    with pytest.raises(UnsupportedQuery, match="'name'"):
        store.update("gallery", {"_id": "e1", "name": "x"}, set={"a": 1})
    with pytest.raises(UnsupportedQuery, match=r"\$regex"):
        store.find("gallery", {"subject_id": {"$regex": "^s"}})
    with pytest.raises(UnsupportedQuery, match=r"\$or"):
        store.find("gallery", {"$or": [{"seq": 10}, {"seq": 20}]})
    with pytest.raises(UnsupportedQuery, match="'name'"):
        store.find("gallery", {}, sort=[("name", 1)])
    with pytest.raises(UnsupportedQuery):
        store.find("gallery", {"subject_id": {"nested": "doc"}})
    with pytest.raises(UnsupportedQuery):
        store.find("gallery", {"seq": [10, 20]})
    assert store.count("gallery", {}) == 2


# ------------------------------------------------------------------ sequences


def test_next_sequence_is_monotonic_and_per_name(store):
    assert [store.next_sequence("audit") for _ in range(5)] == [1, 2, 3, 4, 5]
    assert store.next_sequence("packets") == 1
    assert store.next_sequence("audit") == 6


def test_next_sequence_across_processes_has_no_duplicates(backend):
    context = multiprocessing.get_context("spawn")
    processes_count, per_process = 3, 60
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=draw_sequence, args=(backend.kind, backend.location, "audit", per_process, start, results))
        for _ in range(processes_count)
    ]
    for process in processes:
        process.start()
    start.set()
    drawn = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    for values in drawn:
        assert values == sorted(values)  # monotonic within each process
    everything = [value for values in drawn for value in values]
    assert sorted(everything) == list(range(1, processes_count * per_process + 1))  # no duplicates, no gaps
    with backend.open() as store:
        assert store.next_sequence("audit") == processes_count * per_process + 1


def test_compare_and_set_race_across_processes(backend):
    with backend.open() as store:
        store.insert("enrollments", {"_id": "e1", "subject_id": "s1", "state": "PENDING"})
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=try_transition, args=(backend.kind, backend.location, "e1", n, start, results))
        for n in range(3)
    ]
    for process in processes:
        process.start()
    start.set()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    winners = [worker for worker, matched in outcomes.items() if matched == 1]
    assert len(winners) == 1 and sorted(outcomes.values()) == [0, 0, 1]
    with backend.open() as store:
        assert store.get("enrollments", "e1")["by"] == winners[0]


def test_concurrent_increments_from_threads(store):
    store.insert("jobs", {"_id": "j1", "kind": "k", "state": "S", "n": 0})

    def bump() -> None:
        for _ in range(25):
            store.update("jobs", {"_id": "j1"}, inc={"n": 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("jobs", "j1")["n"] == 100


# ---------------------------------------------------------------- persistence


def test_data_survives_close_and_reopen(store, open_store_again):
    store.insert("subjects", {"_id": "s1", "iin_hash": "h1", "key": b"\x00k"})
    store.next_sequence("audit")
    store.close()
    with open_store_again() as reopened:
        assert reopened.get("subjects", "s1") == {"_id": "s1", "iin_hash": "h1", "key": b"\x00k"}
        assert reopened.next_sequence("audit") == 2
        with pytest.raises(DuplicateKeyError):  # indexes still enforced
            reopened.insert("subjects", {"_id": "s2", "iin_hash": "h1"})


def test_closed_store_refuses_work(store):
    with store as same:
        assert same is store
    with pytest.raises(StoreError):
        store.get("subjects", "s1")
