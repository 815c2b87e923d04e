"""MongoDB backend (production: sharded and replicated), on pymongo.

* Indexes come from :mod:`papilla.shared.store.indexes`; `ensure_indexes()`
  creates them (idempotent). Every unique index gets the partial filter
  ``{field: {"$exists": true}}`` so a document lacking the field never
  conflicts, the same rule as the SQLite backend.
* `update` is a single-document atomic `update_one` (compare-and-set on the
  whole filter); no multi-document transactions anywhere.
* `next_sequence` is `find_one_and_update($inc, upsert)` on `_sequences`.
* Writes default to write concern "majority" with journaling, reads to read
  concern "majority" (a read never returns what a failover could roll back),
  from the primary (pymongo's default read preference); a URI that sets
  ``w=`` or ``readConcernLevel=`` applies instead (infra/mongodb/README.md).
* The field of a TTL index (``expire_at``) is an expiry stamp string in the
  store's contract and a BSON date in MongoDB (a TTL index ignores strings):
  converted on every write, filter and read (`to_mongo_dates`,
  `from_mongo_dates`), and its index gets ``expireAfterSeconds: 0``.
* pymongo errors are wrapped into StoreError / DuplicateKeyError without
  their messages, which may quote document values.
"""
from __future__ import annotations

import functools
import os
import re
from datetime import datetime
from typing import Any, Callable

import pymongo
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError as MongoDuplicateKeyError
from pymongo.errors import ConfigurationError, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from .base import Document, DuplicateKeyError, Filter, SortSpec, Store, StoreError
from .expiry import expiry_stamp, parse_stamp
from .indexes import COLLECTIONS, IndexSpec, expiring_field, indexes_of, unique_indexes
from .query import (
    apply_update,
    check_document,
    check_id,
    check_limit,
    check_sequence_name,
    check_update_call,
    parse_filter,
    parse_sort,
)

SEQUENCES_COLLECTION = "_sequences"
_INDEX_IN_MESSAGE = re.compile(r"index: (\S+)")


def partial_filter_of(spec: IndexSpec) -> dict | None:
    """The MongoDB partialFilterExpression of an index (unique indexes skip documents lacking the field)."""
    expression: dict[str, Any] = dict(spec.partial or {})
    if spec.unique:
        for path in spec.fields:
            expression[path] = {"$exists": True}
    return expression or None


def _to_date(value: Any) -> Any:
    return parse_stamp(value) if isinstance(value, str) else value


def to_mongo_dates(collection: str, values: dict | None) -> dict | None:
    """A copy of a document, `$set` or filter with the TTL field's stamps as BSON dates (datetime)."""
    field = expiring_field(collection)
    if not values or field not in values:
        return values
    converted = dict(values)
    value = converted[field]
    if isinstance(value, dict):  # filter operators
        converted[field] = {op: [_to_date(v) for v in operand] if isinstance(operand, (list, tuple))
                            else _to_date(operand) for op, operand in value.items()}
    else:
        converted[field] = _to_date(value)
    return converted


def from_mongo_dates(collection: str, doc: dict | None) -> dict | None:
    """A document read from MongoDB with its TTL field back to the stamp the store's contract speaks."""
    field = expiring_field(collection)
    if doc is not None and isinstance(doc.get(field), datetime):
        doc[field] = expiry_stamp(doc[field])
    return doc


def _translate_errors(method: Callable) -> Callable:
    """Turn pymongo errors of a `(self, collection, ...)` method into StoreError / DuplicateKeyError.

    The new error is raised outside the `except` block so it carries no
    `__context__`: pymongo's message may quote document values.
    """

    @functools.wraps(method)
    def wrapper(self: "MongoStore", collection: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, collection, *args, **kwargs)
        except PyMongoError as exc:
            failure = self._failure(collection, exc)
        raise failure

    return wrapper


class MongoStore(Store):
    """The document store on a MongoDB database."""

    def __init__(
        self,
        uri: str,
        database: str = "papilla",
        *,
        write_concern: str | int | None = "majority",
        journal: bool | None = True,
        read_concern: str | None = "majority",
        client: Any = None,
        ensure_indexes: bool = True,
        server_selection_timeout_ms: int = 30_000,
    ) -> None:
        """`client` injects an existing MongoClient (or a mongomock one in unit tests) instead of `uri`."""
        self._uri = uri
        self._database_name = database
        self._write_concern = WriteConcern(w=write_concern, j=journal) if write_concern is not None else None
        self._read_concern = ReadConcern(read_concern) if read_concern is not None else None
        self._timeout_ms = server_selection_timeout_ms
        self._owns_client = client is None
        self._client = client if client is not None else self._new_client()
        self._pid = os.getpid()
        self._database: Any = None
        self._closed = False
        if ensure_indexes:
            self.ensure_indexes()

    # ------------------------------------------------------------ plumbing

    def _new_client(self) -> Any:
        try:
            return pymongo.MongoClient(
                self._uri, serverSelectionTimeoutMS=self._timeout_ms, tz_aware=False, appname="papilla"
            )
        except ConfigurationError as exc:
            kind = type(exc).__name__
        raise ValueError(f"invalid MongoDB URI ({kind}; details withheld, the URI may hold credentials)")

    def _db(self) -> Any:
        """The database handle of this process (MongoClient is not fork-safe: a child makes its own)."""
        if self._closed:
            raise StoreError("store is closed")
        if self._database is None or (self._owns_client and os.getpid() != self._pid):
            if self._owns_client and os.getpid() != self._pid:
                self._client = self._new_client()
                self._pid = os.getpid()
            options = {"write_concern": self._write_concern} if self._write_concern is not None else {}
            if self._read_concern is not None:
                options["read_concern"] = self._read_concern
            self._database = self._client.get_database(self._database_name, **options)
        return self._database

    def _collection(self, collection: str) -> Any:
        indexes_of(collection)
        return self._db()[collection]

    @property
    def database(self) -> str:
        return self._database_name

    def close(self) -> None:
        if not self._closed and self._owns_client:
            self._client.close()
        self._closed = True

    def _failure(self, collection: str, exc: PyMongoError) -> StoreError:
        """A StoreError for a pymongo failure, without the server message (it may quote values)."""
        if isinstance(exc, MongoDuplicateKeyError):
            return DuplicateKeyError(collection, self._duplicate_index(collection, exc))
        code = getattr(exc, "code", None)
        return StoreError(f"MongoDB operation on {collection!r} failed: {type(exc).__name__}" + (f" (code {code})" if code else ""))

    @staticmethod
    def _duplicate_index(collection: str, exc: MongoDuplicateKeyError) -> str:
        details = exc.details or {}
        match = _INDEX_IN_MESSAGE.search(str(details.get("errmsg", "")) or str(exc))
        if match:
            name = match.group(1)
            return "_id" if name == "_id_" else name
        key_pattern = details.get("keyPattern") or {}
        if list(key_pattern) == ["_id"]:
            return "_id"
        for spec in unique_indexes(collection):
            if list(key_pattern) == list(spec.fields):
                return spec.name
        return "unknown"

    # ------------------------------------------------------------- indexes

    def ensure_indexes(self) -> None:
        """Create every declared index (idempotent: existing identical indexes are left alone)."""
        for collection, specs in COLLECTIONS.items():
            for spec in specs:
                options: dict[str, Any] = {"name": spec.name}
                if spec.unique:
                    options["unique"] = True
                partial = partial_filter_of(spec)
                if partial:
                    options["partialFilterExpression"] = partial
                if spec.expires:
                    options["expireAfterSeconds"] = 0
                self._create_index(collection, spec, options)

    @_translate_errors
    def _create_index(self, collection: str, spec: IndexSpec, options: dict) -> None:
        self._collection(collection).create_index([(path, pymongo.ASCENDING) for path in spec.fields], **options)

    # ------------------------------------------------------------ interface

    @_translate_errors
    def insert(self, collection: str, doc: Document) -> None:
        check_document(collection, doc)
        self._collection(collection).insert_one(to_mongo_dates(collection, dict(doc)))

    @_translate_errors
    def get(self, collection: str, _id: Any) -> Document | None:
        check_id(_id, collection)
        return from_mongo_dates(collection, self._collection(collection).find_one({"_id": _id}))

    def find_one(self, collection: str, filter: Filter) -> Document | None:
        found = self.find(collection, filter, limit=1)
        return found[0] if found else None

    @_translate_errors
    def find(
        self, collection: str, filter: Filter, sort: SortSpec | None = None, limit: int | None = None
    ) -> list[Document]:
        parse_filter(collection, filter)
        order = parse_sort(collection, sort)
        check_limit(limit)
        if limit == 0:  # MongoDB reads limit 0 as "no limit"
            return []
        cursor = self._collection(collection).find(to_mongo_dates(collection, filter))
        if order:
            cursor = cursor.sort(order)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [from_mongo_dates(collection, doc) for doc in cursor]

    @_translate_errors
    def count(self, collection: str, filter: Filter) -> int:
        parse_filter(collection, filter)
        return self._collection(collection).count_documents(to_mongo_dates(collection, filter))

    @_translate_errors
    def update(
        self,
        collection: str,
        filter: Filter,
        set: dict | None = None,
        unset: list[str] | None = None,
        inc: dict | None = None,
        upsert_doc: Document | None = None,
    ) -> int:
        check_update_call(collection, filter, set, unset, inc, upsert_doc)
        operations: dict[str, dict] = {}
        if set:
            operations["$set"] = to_mongo_dates(collection, set)
        if unset:
            operations["$unset"] = {path: "" for path in unset}
        if inc:
            operations["$inc"] = inc
        target = self._collection(collection)
        mongo_filter = to_mongo_dates(collection, filter)
        matched = self._update_one(target, mongo_filter, operations)
        if matched or upsert_doc is None:
            return matched
        new_doc = apply_update(collection, upsert_doc, set, unset, inc)
        check_document(collection, new_doc)
        try:
            target.insert_one(to_mongo_dates(collection, new_doc))
            return 0
        except MongoDuplicateKeyError:
            # A concurrent writer may have created the document since the miss: retry the update once.
            if operations and self._update_one(target, mongo_filter, operations):
                return 1
            raise

    @staticmethod
    def _update_one(target: Any, filter: Filter, operations: dict) -> int:
        """Atomic compare-and-set: modify the one document matching the whole filter; matched count."""
        if not operations:
            return 1 if target.find_one(filter, projection={"_id": 1}) is not None else 0
        return target.update_one(filter, operations).matched_count

    @_translate_errors
    def delete(self, collection: str, filter: Filter) -> int:
        parse_filter(collection, filter)
        return self._collection(collection).delete_many(to_mongo_dates(collection, filter)).deleted_count

    def next_sequence(self, name: str) -> int:
        check_sequence_name(name)
        return self._increment(SEQUENCES_COLLECTION, name)

    @_translate_errors
    def _increment(self, collection: str, name: str) -> int:
        counters = self._db()[collection]
        try:
            doc = counters.find_one_and_update(
                {"_id": name}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
            )
        except MongoDuplicateKeyError:  # two concurrent first upserts: the loser retries as an update
            doc = counters.find_one_and_update(
                {"_id": name}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
            )
        return int(doc["value"])

    def drop_database(self) -> None:
        """Drop the whole database (tests and throwaway environments only)."""
        self._client.drop_database(self._database_name)

    def __repr__(self) -> str:
        return f"MongoStore(database={self._database_name!r})"
