"""How the SQLite backend writes MongoDB's semantics in SQL: materialized index columns (type class and
sortable value), index DDL, filter conditions with type bracketing, and sort order (see `sqlite`'s layout)."""
from __future__ import annotations

from typing import Any

from .base import Document, Filter, InvalidDocument, SortSpec
from .indexes import IndexSpec
from .query import Condition, get_path, parse_filter, parse_sort

# MongoDB type classes, numbered in MongoDB's cross-type sort order.
TYPE_NULL, TYPE_NUMBER, TYPE_STRING, TYPE_BYTES, TYPE_BOOL = 0, 1, 2, 5, 6
SEQUENCES_TABLE = "_sequences"
_ID_TYPE_SQL = "(CASE typeof(_id) WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 END)"
_SQL_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def type_column(path: str) -> str:
    return quote(f"t:{path}")


def value_column(path: str) -> str:
    return quote(f"f:{path}")


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


def index_name(spec: IndexSpec) -> str:
    return f"{spec.collection}.{spec.name}"

def index_sql(spec: IndexSpec) -> str:
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
        f"CREATE {unique}INDEX {quote(index_name(spec))} "
        f"ON {quote(spec.collection)} ({columns}){clause}"
    )

def columns_for(collection: str, doc: Document, paths: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Materialized column values of `doc` for the given indexed paths."""
    values: dict[str, Any] = {}
    for path in paths:
        found, value = get_path(doc, path)
        type_class, encoded = encode_indexed(value) if found else (None, None)
        values[type_column(path)] = type_class
        values[value_column(path)] = encoded
    return values

def condition_sql(condition: Condition) -> tuple[str, list[Any]]:
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

def where_sql(collection: str, filter: Filter) -> tuple[str, list[Any]]:
    conditions = parse_filter(collection, filter)
    if not conditions:
        return "", []
    parts = [condition_sql(condition) for condition in conditions]
    return " WHERE " + " AND ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]

def order_by_sql(collection: str, sort: SortSpec | None) -> str:
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
