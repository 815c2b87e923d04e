"""Validation shared by every backend: documents, filters, sorts and updates.

Both backends call these functions before touching the database, so a query
refused by one backend is refused by the other with the same error, and the
in-Python update used by SQLite behaves like MongoDB's `$set`/`$unset`/`$inc`.
Error messages name collections, fields and operators, never values.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from .base import Document, Filter, InvalidDocument, SortSpec, StoreError, UnsupportedQuery
from .expiry import check_expiry_value, is_stamp
from .indexes import expiring_field, indexed_fields, indexes_of, materialized_fields, unique_indexes

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # MongoDB's BSON document limit, enforced on SQLite too
COMPARISON_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
FILTER_OPERATORS = ("$eq", "$in", "$ne", *COMPARISON_OPERATORS)
SCALAR_TYPES = (type(None), bool, int, float, str, bytes)


@dataclass(frozen=True)
class Condition:
    """One parsed filter term: `field` `op` `value` (op is one of FILTER_OPERATORS)."""

    field: str
    op: str
    value: Any


# ----------------------------------------------------------------- values


def check_scalar(value: Any, where: str) -> None:
    """Raise InvalidDocument unless `value` may sit in an indexed field or a filter."""
    if not isinstance(value, SCALAR_TYPES):
        raise InvalidDocument(f"{where}: indexed values and filter operands must be scalars, not {type(value).__name__}")
    _check_number(value, where)


def _check_number(value: Any, where: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise InvalidDocument(f"{where}: integer outside the 64-bit range")
    if isinstance(value, float) and math.isnan(value):
        raise InvalidDocument(f"{where}: NaN is not storable")


def check_value(value: Any, where: str) -> None:
    """Raise InvalidDocument unless `value` is a storable value (recursively)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_key(key, where)
            check_value(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_value(item, where)
    elif isinstance(value, SCALAR_TYPES):
        _check_number(value, where)
    else:
        raise InvalidDocument(f"{where}: unsupported value type {type(value).__name__}")


def check_key(key: Any, where: str) -> None:
    if not isinstance(key, str) or not key or key.startswith("$") or "." in key or "\x00" in key:
        raise InvalidDocument(f"{where}: field names must be non-empty strings without '$' prefix, '.' or NUL")


def check_id(value: Any, collection: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidDocument(f"{collection}: _id must be a str or an int")
    _check_number(value, f"{collection}._id")


def check_document(collection: str, doc: Document) -> None:
    """A document fit for `collection`: has a str/int `_id`, storable values, scalar indexed fields."""
    if not isinstance(doc, dict):
        raise InvalidDocument(f"{collection}: a document must be a dict")
    if "_id" not in doc:
        raise InvalidDocument(f"{collection}: a document must carry _id")
    check_id(doc["_id"], collection)
    for key, value in doc.items():
        check_key(key, collection)
        check_value(value, f"{collection}.{key}")
    for path in materialized_fields(collection):
        found, value = get_path(doc, path)
        if found:
            check_scalar(value, f"{collection}.{path}")
            check_expiry_value(collection, path, value)


# ------------------------------------------------------------ dotted paths


def get_path(doc: Document, path: str) -> tuple[bool, Any]:
    """(found, value) at a dotted path; a missing or non-dict step means not found."""
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _parent_for_write(doc: Document, path: str, collection: str) -> tuple[dict, str]:
    """The dict holding the last step of `path`, creating intermediate dicts like MongoDB does."""
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise StoreError(f"{collection}: cannot write {path!r} through a non-document field")
        node = child
    return node, last


def apply_update(
    collection: str,
    doc: Document,
    set: dict | None,
    unset: list[str] | None,
    inc: dict | None,
) -> Document:
    """A copy of `doc` with MongoDB `$set`, `$unset` and `$inc` semantics applied."""
    updated = copy.deepcopy(doc)
    for path, value in (set or {}).items():
        parent, last = _parent_for_write(updated, path, collection)
        parent[last] = copy.deepcopy(value)
    for path in unset or []:
        *parents, last = path.split(".")
        found, parent = get_path(updated, ".".join(parents)) if parents else (True, updated)
        if found and isinstance(parent, dict):
            parent.pop(last, None)
    for path, amount in (inc or {}).items():
        parent, last = _parent_for_write(updated, path, collection)
        current = parent.get(last, 0)
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            raise StoreError(f"{collection}: cannot $inc the non-numeric field {path!r}")
        result = current + amount
        if isinstance(result, int) and not INT64_MIN <= result <= INT64_MAX:
            raise StoreError(f"{collection}: $inc of {path!r} overflows 64 bits")
        parent[last] = result
    return updated


# ------------------------------------------------------------------ filters


def parse_filter(collection: str, filter: Filter) -> list[Condition]:
    """Validate `filter` against the declared indexes and return its conditions (ANDed)."""
    if not isinstance(filter, dict):
        raise UnsupportedQuery(f"{collection}: a filter must be a dict")
    allowed = ("_id", *indexed_fields(collection))
    conditions: list[Condition] = []
    for field, spec in filter.items():
        if not isinstance(field, str):
            raise UnsupportedQuery(f"{collection}: filter keys must be field names")
        if field.startswith("$"):
            raise UnsupportedQuery(f"{collection}: top-level operator {field!r} is not supported")
        if field not in allowed:
            raise UnsupportedQuery(
                f"{collection}: field {field!r} has no declared index; filter only on {', '.join(allowed)}"
            )
        if isinstance(spec, dict):
            if not spec or not all(isinstance(op, str) and op.startswith("$") for op in spec):
                raise UnsupportedQuery(f"{collection}: sub-document equality on field {field!r} is not supported")
            for op, operand in spec.items():
                conditions.append(_parse_operator(collection, field, op, operand))
        else:
            _check_operand(collection, field, spec)
            conditions.append(Condition(field, "$eq", spec))
    return conditions


def _parse_operator(collection: str, field: str, op: str, operand: Any) -> Condition:
    if op not in FILTER_OPERATORS:
        raise UnsupportedQuery(f"{collection}: operator {op!r} on field {field!r} is not supported")
    if op == "$in":
        if not isinstance(operand, (list, tuple)):
            raise UnsupportedQuery(f"{collection}: $in on field {field!r} needs a list")
        for item in operand:
            _check_operand(collection, field, item)
        return Condition(field, op, tuple(operand))
    _check_operand(collection, field, operand)
    return Condition(field, op, operand)


def _check_operand(collection: str, field: str, operand: Any) -> None:
    if not isinstance(operand, SCALAR_TYPES):
        raise UnsupportedQuery(f"{collection}: operand on field {field!r} must be a scalar, not {type(operand).__name__}")
    try:
        _check_number(operand, f"{collection}.{field}")
    except InvalidDocument as exc:
        raise UnsupportedQuery(str(exc)) from None
    if isinstance(operand, str) and field == expiring_field(collection) and not is_stamp(operand):
        raise UnsupportedQuery(f"{collection}: a string compared with {field!r} must be a stamp YYYY-MM-DDTHH:MM:SSZ")


def check_single_document_filter(collection: str, conditions: list[Condition]) -> None:
    """Refuse an update filter that does not pin one document by `_id` or a unique index."""
    equalities: dict[str, Any] = {}
    for condition in conditions:
        if condition.op == "$eq" and condition.value is not None:
            equalities.setdefault(condition.field, condition.value)
    if "_id" in equalities:
        return
    for spec in unique_indexes(collection):
        if all(path in equalities for path in spec.fields) and all(
            path in equalities and type(equalities[path]) is type(value) and equalities[path] == value
            for path, value in (spec.partial or {}).items()
        ):
            return
    raise UnsupportedQuery(
        f"{collection}: an update filter must pin one document by _id or by a unique index (with its partial filter)"
    )


def parse_sort(collection: str, sort: SortSpec | None) -> list[tuple[str, int]]:
    if not sort:
        return []
    allowed = ("_id", *indexed_fields(collection))
    parsed = []
    for item in sort:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise UnsupportedQuery(f"{collection}: sort must be a list of (field, 1 | -1)")
        field, direction = item
        if field not in allowed:
            raise UnsupportedQuery(f"{collection}: cannot sort on unindexed field {field!r}")
        if isinstance(direction, bool) or direction not in (1, -1):
            raise UnsupportedQuery(f"{collection}: sort direction of {field!r} must be 1 or -1")
        parsed.append((field, direction))
    return parsed


def check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError("limit must be None or a non-negative int")


# ------------------------------------------------------------------ updates


def check_update(collection: str, set: dict | None, unset: list[str] | None, inc: dict | None) -> None:
    """Validate update paths and values; refuse touching `_id` and overlapping paths (as MongoDB does)."""
    indexes_of(collection)
    if set is not None and not isinstance(set, dict):
        raise UnsupportedQuery(f"{collection}: set must be a dict")
    if inc is not None and not isinstance(inc, dict):
        raise UnsupportedQuery(f"{collection}: inc must be a dict")
    if unset is not None and (isinstance(unset, (str, bytes, dict)) or not isinstance(unset, (list, tuple))):
        raise UnsupportedQuery(f"{collection}: unset must be a list of field paths")
    paths = [*(set or {}), *(unset or []), *(inc or {})]
    for path in paths:
        if not isinstance(path, str) or not path:
            raise UnsupportedQuery(f"{collection}: update paths must be non-empty strings")
        for part in path.split("."):
            try:
                check_key(part, collection)
            except InvalidDocument:
                raise UnsupportedQuery(f"{collection}: invalid update path {path!r}") from None
        if path == "_id" or path.startswith("_id."):
            raise UnsupportedQuery(f"{collection}: _id cannot be updated")
    for i, path in enumerate(paths):
        for other in paths[i + 1 :]:
            if path == other or path.startswith(other + ".") or other.startswith(path + "."):
                raise UnsupportedQuery(f"{collection}: update paths {path!r} and {other!r} conflict")
    for path, value in (set or {}).items():
        check_value(value, f"{collection}.{path}")
        _check_indexed_set(collection, path, value)
    for path, amount in (inc or {}).items():
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise UnsupportedQuery(f"{collection}: inc of {path!r} needs a number")
        _check_number(amount, f"{collection}.{path}")


def _check_indexed_set(collection: str, path: str, value: Any) -> None:
    """Setting `path` must leave a scalar in every indexed field it reaches."""
    for indexed in materialized_fields(collection):
        if indexed == path:
            check_scalar(value, f"{collection}.{indexed}")
            check_expiry_value(collection, indexed, value)
        elif indexed.startswith(path + "."):
            found, inner = get_path(value, indexed[len(path) + 1 :]) if isinstance(value, dict) else (False, None)
            if found:
                check_scalar(inner, f"{collection}.{indexed}")
        elif path.startswith(indexed + "."):
            raise InvalidDocument(f"{collection}: cannot set {path!r} inside the indexed scalar field {indexed!r}")


def check_sequence_name(name: str) -> None:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError("a sequence name must be a non-empty string")


def check_update_call(collection: str, filter: dict, set: dict | None, unset: list[str] | None,
                      inc: dict | None, upsert_doc: dict | None) -> None:
    """Everything `Store.update` checks before touching a backend (one place for both)."""
    check_single_document_filter(collection, parse_filter(collection, filter))
    check_update(collection, set, unset, inc)
    if upsert_doc is not None:
        check_document(collection, upsert_doc)
        if "_id" in filter and not isinstance(filter["_id"], dict) and filter["_id"] != upsert_doc["_id"]:
            raise ValueError(f"{collection}: upsert_doc _id differs from the filter's _id")
