"""SQLite backend: the embedded default (demos, one offline branch, tests).

Layout: one table per collection. ``_id`` is the primary key, the whole
document is a BSON blob in ``doc``, and every indexed field is materialized in
two columns so SQLite indexes enforce MongoDB's constraints and order:

* ``"t:<field>"`` the MongoDB type class of the value (NULL when the field is
  missing; 0 null, 1 number, 2 string, 5 bytes, 6 bool: MongoDB's sort order),
* ``"f:<field>"`` the value (bool as 0/1, bytes prefixed with their length so
  byte order matches MongoDB's BinData order, None as 0).

Comparisons test the type class first, which gives MongoDB's type bracketing
(``$gt: 5`` never matches a string). Unique indexes cover only rows whose
fields are present (``"t:<field>" IS NOT NULL``) plus the declared partial
filter, the same rule as the MongoDB backend.

Concurrency: WAL journal, a busy timeout, and every read-modify-write inside
``BEGIN IMMEDIATE`` so several processes may share one file. One connection
per process, guarded by a lock, so one instance is safe across threads.

SQLite has no TTL indexes: opening a store deletes what has expired
(`expiry.delete_expired`), and `papilla store expire` does it hourly.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import bson

from .base import Document, DuplicateKeyError, Filter, InvalidDocument, SortSpec, Store, StoreError
from .expiry import delete_expired
from .indexes import COLLECTIONS, indexes_of, materialized_fields, unique_indexes
from .query import (
    MAX_DOCUMENT_BYTES,
    apply_update,
    check_document,
    check_id,
    check_limit,
    check_sequence_name,
    check_update_call,
)
from .sqlite_sql import (
    SEQUENCES_TABLE,
    columns_for,
    encode_indexed,
    index_name,
    index_sql,
    order_by_sql,
    quote,
    type_column,
    value_column,
    where_sql,
)


class SQLiteStore(Store):
    """The document store on one SQLite file, shareable by threads and processes."""

    def __init__(self, path: str | os.PathLike, *, busy_timeout: float = 30.0, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError("synchronous must be OFF, NORMAL, FULL or EXTRA")
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous.upper()
        self._lock = threading.RLock()
        self._inherited: list[sqlite3.Connection] = []  # connections from a parent process: never touched
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._conn = self._connect()
            try:
                self._ensure_schema()
                #: what a MongoDB TTL index would have removed (no TTL in SQLite), per collection
                self.expired_at_open = delete_expired(self)
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------ plumbing

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        # Deleted rows (a shredded data key, a destroyed subject) are overwritten, not left in free pages.
        # Their old page images stay in the WAL until the next checkpoint (automatic every ~1000 pages).
        conn.execute("PRAGMA secure_delete = ON")
        return conn

    def _connection(self) -> sqlite3.Connection:
        """This process's connection (a forked child opens its own, never reusing the parent's)."""
        if self._closed or self._conn is None:
            raise StoreError("store is closed")
        if os.getpid() != self._pid:
            self._inherited.append(self._conn)
            self._pid = os.getpid()
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE takes the write lock before reading."""
        with self._lock, self._sqlite_errors_wrapped():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._sqlite_errors_wrapped():
            yield self._connection()

    @contextmanager
    def _sqlite_errors_wrapped(self) -> Iterator[None]:
        """sqlite3 errors (locked beyond the busy timeout, disk full...) surface as StoreError."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite failure ({getattr(exc, 'sqlite_errorname', type(exc).__name__)}): {exc}") from exc

    def release_deleted(self) -> None:
        with self._lock:
            self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and not self._closed and os.getpid() == self._pid:
                self._conn.close()
            self._closed = True
            self._conn = None

    # -------------------------------------------------------------- schema

    def _ensure_schema(self) -> None:
        """Create or migrate every declared collection (columns, indexes); idempotent, multi-process safe."""
        with self._write() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {SEQUENCES_TABLE} (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            for collection in COLLECTIONS:
                self._ensure_collection(conn, collection)

    def _ensure_collection(self, conn: sqlite3.Connection, collection: str) -> None:
        """Bring one table in line with its declared indexes: drop stale indexes and columns, add and
        backfill columns of newly indexed fields, create missing indexes."""
        table = quote(collection)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (_id NOT NULL PRIMARY KEY, doc BLOB NOT NULL)")
        wanted = {index_name(spec): index_sql(spec) for spec in indexes_of(collection)}
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (collection,)
        ).fetchall():
            if wanted.get(name) != sql:  # undeclared, or declared differently under the same name
                conn.execute(f"DROP INDEX {quote(name)}")
        fields = materialized_fields(collection)
        existing = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        for column in existing:  # columns of fields no longer indexed would go stale: drop them
            if column[:2] in ("t:", "f:") and column[2:] not in fields:
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {quote(column)}")
        added = [path for path in fields if f"f:{path}" not in existing]
        for path in added:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {type_column(path)} INTEGER")
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {value_column(path)}")
        if added:  # a field indexed after data was written: backfill its columns
            for _id, blob in conn.execute(f"SELECT _id, doc FROM {table}").fetchall():
                values = columns_for(collection, bson.decode(blob), added)
                assignments = ", ".join(f"{column} = ?" for column in values)
                conn.execute(f"UPDATE {table} SET {assignments} WHERE _id = ?", (*values.values(), _id))
        for name, sql in wanted.items():
            try:
                conn.execute(sql.replace("INDEX ", "INDEX IF NOT EXISTS ", 1))
            except sqlite3.IntegrityError:
                raise StoreError(f"existing data in {collection!r} violates unique index {name!r}") from None

    # ------------------------------------------------------------- queries

    @staticmethod
    def _encode(doc: Document) -> bytes:
        blob = bson.encode(doc)
        if len(blob) > MAX_DOCUMENT_BYTES:
            raise InvalidDocument("document exceeds the 16 MiB limit")
        return blob

    # ------------------------------------------------------------ interface

    def insert(self, collection: str, doc: Document) -> None:
        check_document(collection, doc)
        blob = self._encode(doc)
        columns = columns_for(collection, doc, materialized_fields(collection))
        names = ", ".join(["_id", "doc", *columns])
        marks = ", ".join("?" for _ in range(2 + len(columns)))
        with self._write() as conn:
            self._execute_write(
                conn, collection, doc,
                f"INSERT INTO {quote(collection)} ({names}) VALUES ({marks})",
                (doc["_id"], blob, *columns.values()),
            )

    def _execute_write(self, conn: sqlite3.Connection, collection: str, doc: Document, sql: str, params: tuple) -> None:
        """Run an INSERT/UPDATE, turning a UNIQUE violation into DuplicateKeyError (no values in it)."""
        try:
            conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname == "SQLITE_CONSTRAINT_PRIMARYKEY" or str(exc) == f"UNIQUE constraint failed: {collection}._id":
                index = "_id"
            elif exc.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE":
                index = self._violated_index(conn, collection, doc)
            else:
                raise
            raise DuplicateKeyError(collection, index) from None

    def _violated_index(self, conn: sqlite3.Connection, collection: str, doc: Document) -> str:
        """Name of the unique index `doc` collides with, found by querying for the other document."""
        columns = columns_for(collection, doc, materialized_fields(collection))
        for spec in unique_indexes(collection):
            if any(columns[type_column(path)] is None for path in spec.fields):
                continue  # doc is not in this index
            partial = {path: encode_indexed(value) for path, value in (spec.partial or {}).items()}
            if any((columns[type_column(path)], columns[value_column(path)]) != (type_class, encoded)
                   for path, (type_class, encoded) in partial.items()):
                continue
            terms = [*spec.fields, *partial]
            sql = " AND ".join(f"{type_column(path)} = ? AND {value_column(path)} = ?" for path in terms)
            params = [value for path in terms for value in (columns[type_column(path)], columns[value_column(path)])]
            row = conn.execute(
                f"SELECT 1 FROM {quote(collection)} WHERE {sql} AND _id <> ? LIMIT 1", (*params, doc["_id"])
            ).fetchone()
            if row:
                return spec.name
        return "unknown"

    def get(self, collection: str, _id: Any) -> Document | None:
        indexes_of(collection)
        check_id(_id, collection)
        with self._read() as conn:
            row = conn.execute(f"SELECT doc FROM {quote(collection)} WHERE _id = ?", (_id,)).fetchone()
        return bson.decode(row[0]) if row else None

    def find_one(self, collection: str, filter: Filter) -> Document | None:
        found = self.find(collection, filter, limit=1)
        return found[0] if found else None

    def find(
        self, collection: str, filter: Filter, sort: SortSpec | None = None, limit: int | None = None
    ) -> list[Document]:
        check_limit(limit)
        where, params = where_sql(collection, filter)
        sql = f"SELECT doc FROM {quote(collection)}{where}{order_by_sql(collection, sort)}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [bson.decode(row[0]) for row in rows]

    def count(self, collection: str, filter: Filter) -> int:
        where, params = where_sql(collection, filter)
        with self._read() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {quote(collection)}{where}", params).fetchone()[0]

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
        where, params = where_sql(collection, filter)
        table = quote(collection)
        with self._write() as conn:
            rows = conn.execute(f"SELECT _id, doc FROM {table}{where} LIMIT 2", params).fetchall()
            if len(rows) > 1:
                raise StoreError(f"{collection}: update filter matched several documents")
            if rows:
                _id, blob = rows[0]
                self._replace(conn, collection, apply_update(collection, bson.decode(blob), set, unset, inc))
                return 1
            if upsert_doc is None:
                return 0
            new_doc = apply_update(collection, upsert_doc, set, unset, inc)
            check_document(collection, new_doc)
            columns = columns_for(collection, new_doc, materialized_fields(collection))
            names = ", ".join(["_id", "doc", *columns])
            marks = ", ".join("?" for _ in range(2 + len(columns)))
            self._execute_write(
                conn, collection, new_doc,
                f"INSERT INTO {table} ({names}) VALUES ({marks})",
                (new_doc["_id"], self._encode(new_doc), *columns.values()),
            )
            return 0

    def _replace(self, conn: sqlite3.Connection, collection: str, doc: Document) -> None:
        check_document(collection, doc)
        columns = columns_for(collection, doc, materialized_fields(collection))
        assignments = ", ".join(f"{column} = ?" for column in ["doc", *columns])
        self._execute_write(
            conn, collection, doc,
            f"UPDATE {quote(collection)} SET {assignments} WHERE _id = ?",
            (self._encode(doc), *columns.values(), doc["_id"]),
        )

    def delete(self, collection: str, filter: Filter) -> int:
        where, params = where_sql(collection, filter)
        with self._write() as conn:
            return conn.execute(f"DELETE FROM {quote(collection)}{where}", params).rowcount

    def next_sequence(self, name: str) -> int:
        check_sequence_name(name)
        with self._write() as conn:
            row = conn.execute(
                f"INSERT INTO {SEQUENCES_TABLE} (name, value) VALUES (?, 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                (name,),
            ).fetchall()[0]
        return int(row[0])

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
