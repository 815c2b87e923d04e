"""Appends from several processes at once keep one unbroken chain, on SQLite and (when reachable) MongoDB."""
from __future__ import annotations

import multiprocessing
import os
import uuid

import mongomock
import pytest

from papilla.shared import audit
from papilla.shared.audit_chain import COLLECTION, AuditTrail
from papilla.shared.store.mongo import MongoStore

from tests.helpers.audit_trail import append_many, fill, make_spec

MONGO_URI = os.environ.get("PAPILLA_MONGO_URI")
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("mongo", id="mongo", marks=[
        pytest.mark.mongo, pytest.mark.skipif(not MONGO_URI, reason="PAPILLA_MONGO_URI not set: no MongoDB server here")]),
]


@pytest.fixture(params=BACKENDS)
def backend_spec(request, tmp_path):
    if request.param == "sqlite":
        yield make_spec(tmp_path)
        return
    database = f"papilla_test_{uuid.uuid4().hex[:12]}"
    yield make_spec(tmp_path, "mongo", database)
    cleanup = MongoStore(MONGO_URI, database, ensure_indexes=False)
    try:
        cleanup.drop_database()
    finally:
        cleanup.close()


def test_concurrent_appends_from_several_processes_keep_one_chain(backend_spec):
    spec = backend_spec
    context = multiprocessing.get_context("spawn")
    workers, per_worker = 4, 30
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=append_many, args=(spec, w, per_worker, start, results))
                 for w in range(workers)]
    for process in processes:
        process.start()
    start.set()
    drawn = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    total = workers * per_worker
    assert sorted(seq for seqs in drawn for seq in seqs) == list(range(1, total + 1))
    assert all(seqs == sorted(seqs) for seqs in drawn)
    trail = spec.open(sign=False)
    try:
        report = audit.verify(trail)
        assert report.ok, report.problems
        assert report.entries == report.last_seq == report.head_seq == total
        assert report.checkpoint.seq == total and report.checkpoints_outside == total // spec.checkpoint_every
        docs = trail.store.find(COLLECTION, {}, sort=[("_id", 1)])
        assert {(d["actor"], d["details"]["request_id"]) for d in docs} == {
            (f"w{w}", f"r-{w}-{i}") for w in range(workers) for i in range(per_worker)}
    finally:
        trail.store.close()


def test_the_pymongo_code_path_appends_and_detects_tampering(tmp_path):
    """The MongoStore calls (insert, compare-and-set on the head, paged finds) on mongomock."""
    base = make_spec(tmp_path).open()
    store = MongoStore("mongodb://unused", "papilla_audit_unit", client=mongomock.MongoClient())
    trail = AuditTrail(store=store, mac=base.mac, signer=base.signer, verify_key=base.verify_key, policy=base.policy)
    base.store.close()
    fill(trail, 7)
    assert audit.verify(trail).ok
    store.delete(COLLECTION, {"_id": 3})
    assert [(p.kind, p.seq) for p in audit.verify(trail).problems] == [("deleted", 3)]
