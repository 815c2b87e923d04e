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
from .indexes import COLLECTIONS, IndexSpec, indexes_of, materialized_fields, unique_indexes
from .query import (
    MAX_DOCUMENT_BYTES,
    Condition,
    apply_update,
    check_document,
    check_id,
    check_limit,
    check_sequence_name,
    check_update_call,
    get_path,
    parse_filter,
    parse_sort,
)

# MongoDB type classes, numbered in MongoDB's cross-type sort order.
TYPE_NULL, TYPE_NUMBER, TYPE_STRING, TYPE_BYTES, TYPE_BOOL = 0, 1, 2, 5, 6
SEQUENCES_TABLE = "_sequences"
_ID_TYPE_SQL = "(CASE typeof(_id) WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 END)"
_SQL_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def type_column(path: str) -> str:
    return _quote(f"t:{path}")


def value_column(path: str) -> str:
    return _quote(f"f:{path}")


def encode_indexed(value: Any) -> tuple[int, Any]:
    """(type class, sortable SQLite value) of a scalar indexed value."""
    if value is None:
        return TYPE_NULL, 0
    if isinstance(value, bool):
        return TYPE_BOOL, int(value)
    if isinstance(value, (int, float)):
        return TYPE_NUMBER, value
    if isinstance(value, str):
        return TYPE_STRING, value
    if isinstance(value, bytes):
        return TYPE_BYTES, len(value).to_bytes(8, "big") + value
    raise InvalidDocument(f"unsupported indexed value type {type(value).__name__}")


def _sql_literal(value: Any) -> str:
    """A literal for an index's WHERE clause (SQLite forbids parameters there)."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):  # bool already encoded as 0/1
        return str(int(value))
    raise ValueError("partial-filter values must be str, int or bool")


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
        table = _quote(collection)
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (_id NOT NULL PRIMARY KEY, doc BLOB NOT NULL)")
        wanted = {self._index_name(spec): self._index_sql(spec) for spec in indexes_of(collection)}
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (collection,)
        ).fetchall():
            if wanted.get(name) != sql:  # undeclared, or declared differently under the same name
                conn.execute(f"DROP INDEX {_quote(name)}")
        fields = materialized_fields(collection)
        existing = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        for column in existing:  # columns of fields no longer indexed would go stale: drop them
            if column[:2] in ("t:", "f:") and column[2:] not in fields:
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {_quote(column)}")
        added = [path for path in fields if f"f:{path}" not in existing]
        for path in added:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {type_column(path)} INTEGER")
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {value_column(path)}")
        if added:  # a field indexed after data was written: backfill its columns
            for _id, blob in conn.execute(f"SELECT _id, doc FROM {table}").fetchall():
                values = self._columns_for(collection, bson.decode(blob), added)
                assignments = ", ".join(f"{column} = ?" for column in values)
                conn.execute(f"UPDATE {table} SET {assignments} WHERE _id = ?", (*values.values(), _id))
        for name, sql in wanted.items():
            try:
                conn.execute(sql.replace("INDEX ", "INDEX IF NOT EXISTS ", 1))
            except sqlite3.IntegrityError:
                raise StoreError(f"existing data in {collection!r} violates unique index {name!r}") from None

    @staticmethod
    def _index_name(spec: IndexSpec) -> str:
        return f"{spec.collection}.{spec.name}"

    def _index_sql(self, spec: IndexSpec) -> str:
        columns = ", ".join(f"{type_column(path)}, {value_column(path)}" for path in spec.fields)
        where = []
        if spec.unique:
            where += [f"{type_column(path)} IS NOT NULL" for path in spec.fields]
        for path, value in (spec.partial or {}).items():
            type_class, encoded = encode_indexed(value)
            where.append(f"{type_column(path)} = {type_class} AND {value_column(path)} = {_sql_literal(encoded)}")
        unique = "UNIQUE " if spec.unique else ""
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return (
            f"CREATE {unique}INDEX {_quote(self._index_name(spec))} "
            f"ON {_quote(spec.collection)} ({columns}){clause}"
        )

    @staticmethod
    def _columns_for(collection: str, doc: Document, paths: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """Materialized column values of `doc` for the given indexed paths."""
        values: dict[str, Any] = {}
        for path in paths:
            found, value = get_path(doc, path)
            type_class, encoded = encode_indexed(value) if found else (None, None)
            values[type_column(path)] = type_class
            values[value_column(path)] = encoded
        return values

    # ------------------------------------------------------------- queries

    @staticmethod
    def _condition_sql(condition: Condition) -> tuple[str, list[Any]]:
        """SQL for one condition, with MongoDB semantics (type bracketing, None matches missing)."""
        if condition.field == "_id":
            type_sql, value_sql = _ID_TYPE_SQL, "_id"
        else:
            type_sql, value_sql = type_column(condition.field), value_column(condition.field)

        def equals(value: Any) -> tuple[str, list[Any]]:
            # `=` (not IS) so the planner can use partial indexes "WHERE t IS NOT NULL";
            # the type class is our own small int, inlined as a literal.
            if value is None:
                return f"({type_sql} IS NULL OR {type_sql} = {TYPE_NULL})", []
            type_class, encoded = encode_indexed(value)
            return f"({type_sql} = {type_class} AND {value_sql} = ?)", [encoded]

        op, value = condition.op, condition.value
        if op == "$eq":
            return equals(value)
        if op == "$ne":  # a missing field is "not equal" too; NULL-safe
            sql, params = equals(value)
            return (f"(NOT {sql})", params) if value is None else (f"({type_sql} IS NULL OR NOT {sql})", params)
        if op == "$in":
            if not value:
                return "0", []
            parts = [equals(item) for item in value]
            return "(" + " OR ".join(sql for sql, _ in parts) + ")", [p for _, params in parts for p in params]
        if value is None:  # MongoDB: $gte/$lte null match null or missing; $gt/$lt null match nothing
            return equals(None) if op in ("$gte", "$lte") else ("0", [])
        type_class, encoded = encode_indexed(value)
        return f"({type_sql} = {type_class} AND {value_sql} {_SQL_OPERATORS[op]} ?)", [encoded]

    def _where(self, collection: str, filter: Filter) -> tuple[str, list[Any]]:
        conditions = parse_filter(collection, filter)
        if not conditions:
            return "", []
        parts = [self._condition_sql(condition) for condition in conditions]
        return " WHERE " + " AND ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]

    @staticmethod
    def _order_by(collection: str, sort: SortSpec | None) -> str:
        terms = []
        for path, direction in parse_sort(collection, sort):
            order = "ASC" if direction == 1 else "DESC"
            if path == "_id":
                terms.append(f"_id {order}")
            else:
                terms.append(f"COALESCE({type_column(path)}, {TYPE_NULL}) {order}, {value_column(path)} {order}")
        if terms and not any(path == "_id" for path, _ in parse_sort(collection, sort)):
            terms.append("_id ASC")  # deterministic ties
        return " ORDER BY " + ", ".join(terms) if terms else ""

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
        columns = self._columns_for(collection, doc, materialized_fields(collection))
        names = ", ".join(["_id", "doc", *columns])
        marks = ", ".join("?" for _ in range(2 + len(columns)))
        with self._write() as conn:
            self._execute_write(
                conn, collection, doc,
                f"INSERT INTO {_quote(collection)} ({names}) VALUES ({marks})",
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
        columns = self._columns_for(collection, doc, materialized_fields(collection))
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
                f"SELECT 1 FROM {_quote(collection)} WHERE {sql} AND _id <> ? LIMIT 1", (*params, doc["_id"])
            ).fetchone()
            if row:
                return spec.name
        return "unknown"

    def get(self, collection: str, _id: Any) -> Document | None:
        indexes_of(collection)
        check_id(_id, collection)
        with self._read() as conn:
            row = conn.execute(f"SELECT doc FROM {_quote(collection)} WHERE _id = ?", (_id,)).fetchone()
        return bson.decode(row[0]) if row else None

    def find_one(self, collection: str, filter: Filter) -> Document | None:
        found = self.find(collection, filter, limit=1)
        return found[0] if found else None

    def find(
        self, collection: str, filter: Filter, sort: SortSpec | None = None, limit: int | None = None
    ) -> list[Document]:
        check_limit(limit)
        where, params = self._where(collection, filter)
        sql = f"SELECT doc FROM {_quote(collection)}{where}{self._order_by(collection, sort)}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [bson.decode(row[0]) for row in rows]

    def count(self, collection: str, filter: Filter) -> int:
        where, params = self._where(collection, filter)
        with self._read() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {_quote(collection)}{where}", params).fetchone()[0]

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
        where, params = self._where(collection, filter)
        table = _quote(collection)
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
            columns = self._columns_for(collection, new_doc, materialized_fields(collection))
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
        columns = self._columns_for(collection, doc, materialized_fields(collection))
        assignments = ", ".join(f"{column} = ?" for column in ["doc", *columns])
        self._execute_write(
            conn, collection, doc,
            f"UPDATE {_quote(collection)} SET {assignments} WHERE _id = ?",
            (self._encode(doc), *columns.values(), doc["_id"]),
        )

    def delete(self, collection: str, filter: Filter) -> int:
        where, params = self._where(collection, filter)
        with self._write() as conn:
            return conn.execute(f"DELETE FROM {_quote(collection)}{where}", params).rowcount

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
