"""The document-store interface every backend implements, and its errors.

Contract (proven for every backend by ``tests/store/test_store_contract.py``):

* Documents are dicts with an ``_id`` (str or int). Values are str, int
  (64-bit), float, bool, None, bytes, lists and nested dicts of these; no
  datetime objects (use ISO-8601 UTC strings). bytes round-trip as bytes.
* Collections and their indexes are declared in
  :mod:`papilla.shared.store.indexes`. Filters and sorts may only use ``_id``
  and indexed fields; indexed fields hold scalars (not lists or dicts).
* Filters: ``{field: value}`` equality, or ``{field: {op: value, ...}}`` with
  ``$in``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$ne``. Comparisons follow
  MongoDB: they only match values of the same type class (numbers, strings,
  bytes, bool), ``{field: None}`` matches a missing field and an explicit None.
  An empty filter selects every document.
* ``update`` is an atomic compare-and-set on ONE document: its filter must
  pin the document by ``_id`` or by a unique index.
* Unique indexes ignore documents that lack the indexed field (see
  :mod:`papilla.shared.store.indexes`).
* Errors never carry document values: they may be personal data.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

Document = dict[str, Any]
Filter = dict[str, Any]
SortSpec = list[tuple[str, int]]


class StoreError(Exception):
    """Any failure of the store (backend errors are wrapped into this)."""


class DuplicateKeyError(StoreError):
    """A write would put two documents under one `_id` or one unique-index key.

    Carries the collection and index name only, never the conflicting values.
    """

    def __init__(self, collection: str, index: str) -> None:
        self.collection = collection
        self.index = index
        super().__init__(f"duplicate key in collection {collection!r} on index {index!r}")


class UnsupportedQuery(StoreError):
    """A filter, sort or update the store refuses (unindexed field, unknown operator...)."""


class UnknownCollection(StoreError, KeyError):
    """The collection is not declared in papilla.shared.store.indexes.COLLECTIONS."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InvalidDocument(StoreError, ValueError):
    """A document or value the store cannot hold (datetime, >64-bit int, list in an indexed field...)."""


class Store(ABC):
    """A small document store: one interface, a SQLite and a MongoDB backend.

    All methods are synchronous and thread-safe. Several processes may use the
    same database at once.
    """

    @abstractmethod
    def insert(self, collection: str, doc: Document) -> None:
        """Insert `doc` (which must carry `_id`). DuplicateKeyError on a duplicate `_id` or unique key."""

    @abstractmethod
    def get(self, collection: str, _id: Any) -> Document | None:
        """The document with this `_id`, or None."""

    @abstractmethod
    def find_one(self, collection: str, filter: Filter) -> Document | None:
        """One document matching `filter` (which one is unspecified if several match), or None."""

    @abstractmethod
    def find(
        self,
        collection: str,
        filter: Filter,
        sort: SortSpec | None = None,
        limit: int | None = None,
    ) -> list[Document]:
        """Documents matching `filter`, ordered by `sort` ([(field, 1 | -1), ...]), at most `limit`."""

    @abstractmethod
    def count(self, collection: str, filter: Filter) -> int:
        """How many documents match `filter`."""

    @abstractmethod
    def update(
        self,
        collection: str,
        filter: Filter,
        set: dict | None = None,
        unset: list[str] | None = None,
        inc: dict | None = None,
        upsert_doc: Document | None = None,
    ) -> int:
        """Atomic compare-and-set of ONE document; returns the matched count (0 or 1).

        `filter` must contain `_id` or every field of a unique index (as
        equalities, plus the index's partial filter). When the whole filter
        matches, `set` / `unset` / `inc` (dotted paths allowed) are applied and
        1 is returned. When nothing matches and `upsert_doc` is given,
        `upsert_doc` with the same modifications applied is inserted and 0 is
        returned; if a document with its `_id` already exists (the filter did
        not match it), DuplicateKeyError is raised. DuplicateKeyError also when
        the change would break a unique index.
        """

    @abstractmethod
    def delete(self, collection: str, filter: Filter) -> int:
        """Delete every document matching `filter`; returns how many."""

    @abstractmethod
    def next_sequence(self, name: str) -> int:
        """Atomically increment the counter `name` (first value 1) and return it; safe across processes."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""

    def release_deleted(self) -> None:
        """Make deleted documents unrecoverable from this store's own files where the backend can
        (SQLite: pages are zeroed by secure_delete, the WAL is checkpointed and truncated). MongoDB: a no-op
        here; what backups and the oplog keep is documented in infra/mongodb/."""

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
