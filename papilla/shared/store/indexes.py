"""The one place where collections and their indexes are declared.

Both backends read this module: `MongoStore.ensure_indexes()` creates these
indexes in MongoDB, `SQLiteStore` materializes every indexed field in its own
column and creates the same (unique, partial) indexes in SQLite. Queries may
only filter and sort on `_id` and on fields declared here, so every query is
indexed on MongoDB too.

Unique-index semantics (identical on both backends, proven by the contract
tests): a document takes part in a unique index only when it HAS every indexed
field (an explicit ``None`` counts as having it) and matches the index's
partial filter. A document that lacks the field never conflicts. On MongoDB
this is the partial filter ``{field: {"$exists": true}}`` added to every
unique index; on SQLite the index's ``WHERE`` clause.

Expiry (TTL): an index declared with ``expires=True`` sits on one field that
holds the instant the document stops being needed, an ISO-8601 UTC stamp
``YYYY-MM-DDTHH:MM:SSZ`` (`papilla.shared.store.expiry.expiry_stamp`); a
document without the field (or with None) never expires. MongoDB deletes
such documents itself (the field is stored as a BSON date under a TTL index
with ``expireAfterSeconds: 0``; the server's TTL monitor runs about once a
minute); SQLite has no TTL, so `expiry.delete_expired` deletes them when a
SQLiteStore opens and whenever `papilla store expire` runs (hourly, from
infra/systemd/papilla-housekeeping.timer). Only operational data expires:
nothing under a legal retention (subjects, enrollments, biometrics, audit,
retention terms, acts, access requests, transfers) has a TTL index, because
their end is a decision with an act and an audit entry (Law 003 Art.17).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from papilla.shared import names

from .base import UnknownCollection

_FIELD_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_COLLECTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PARTIAL_VALUE_TYPES = (str, int, bool)


@dataclass(frozen=True)
class IndexSpec:
    """One index of one collection.

    fields:  indexed field paths (dotted paths reach into sub-documents), ascending.
    unique:  refuse two documents with equal values (documents lacking a field are exempt).
    partial: equality-only filter restricting which documents the index covers,
             e.g. ``{"state": "ACTIVE"}``; values must be str, int or bool.
    name:    index name; derived from the other attributes when left empty.
    expires: TTL index: the one field holds an expiry stamp and the document is deleted once it is
             past (see the module docstring); never unique nor partial.
    """

    collection: str
    fields: tuple[str, ...]
    unique: bool = False
    partial: dict | None = field(default=None, hash=False, compare=False)
    name: str = ""
    expires: bool = False

    def __post_init__(self) -> None:
        if not _COLLECTION_NAME.match(self.collection):
            raise ValueError(f"invalid collection name {self.collection!r}")
        if isinstance(self.fields, str) or not self.fields:
            raise ValueError("IndexSpec.fields must be a non-empty tuple of field paths")
        object.__setattr__(self, "fields", tuple(self.fields))
        for path in self.fields:
            if not _FIELD_PATH.match(path) or path == "_id":
                raise ValueError(f"invalid indexed field {path!r} in {self.collection}")
        for path, value in (self.partial or {}).items():
            if not _FIELD_PATH.match(path):
                raise ValueError(f"invalid partial-filter field {path!r} in {self.collection}")
            if not isinstance(value, _PARTIAL_VALUE_TYPES):
                raise ValueError(f"partial filter on {path!r} must be an equality on str, int or bool")
        if self.expires and (len(self.fields) != 1 or self.unique or self.partial):
            raise ValueError(f"a TTL index of {self.collection} sits on one field, neither unique nor partial")
        if not self.name:
            object.__setattr__(self, "name", self._derived_name())

    def _derived_name(self) -> str:
        name = "_".join(f"{path.replace('.', '_')}_1" for path in self.fields)
        if self.unique:
            name += "_unique"
        if self.partial:
            digest = hashlib.sha256(json.dumps(self.partial, sort_keys=True).encode()).hexdigest()[:8]
            name += f"_partial_{digest}"
        if self.expires:
            name += "_ttl"
        return name

    @property
    def partial_fields(self) -> tuple[str, ...]:
        """Fields the partial filter reads (they must be materialized too)."""
        return tuple(self.partial or {})


#: The field of every TTL index: when the document stops being needed (an expiry stamp).
EXPIRE_AT = "expire_at"


def _expiring(collection: str) -> IndexSpec:
    return IndexSpec(collection, (EXPIRE_AT,), expires=True)


def _specs(collection: str, *specs: tuple) -> tuple[IndexSpec, ...]:
    """Shorthand: each spec is (fields, unique=False, partial=None, name="")."""
    built = []
    for spec in specs:
        fields, *rest = spec
        built.append(IndexSpec(collection, tuple(fields), *rest))
    return tuple(built)


COLLECTIONS: dict[str, tuple[IndexSpec, ...]] = {
    # _id = subject id
    # state: the subject's lifecycle state (shared/legal/states.py), compare-and-set on every transition
    names.SUBJECTS: _specs(names.SUBJECTS, (("iin_hash",), True), (("state",),)),
    # _id = enrollment id = packet id; one ACTIVE enrollment per subject.
    names.ENROLLMENTS: _specs(
        names.ENROLLMENTS,
        (("subject_id",),),
        (("state",),),
        (("subject_id",), True, {"state": "ACTIVE"}, "subject_id_1_unique_active"),
        (("created_at",),),
        (("partner", "state"),),     # a partner system's records (MOSIP referenceCount, services/abis)
    ),
    # _id = f"{enrollment_id}:{finger}"
    names.BIOMETRICS: _specs(names.BIOMETRICS, (("enrollment_id",),), (("subject_id",),)),
    # _id = enrollment id: the matcher's prepared templates of all its fingers (read without images)
    names.TEMPLATES: _specs(names.TEMPLATES, (("subject_id",),)),
    # _id = enrollment id
    names.GALLERY: _specs(names.GALLERY, (("subject_id",),), (("seq",), True)),
    # _id = request id; expire_at = stored + results retention (shared/results.py)
    names.RESULTS: _specs(names.RESULTS, (("reply_to",),), (("published",),), (("claim",),)) + (_expiring(names.RESULTS),),
    # _id = station / service id
    names.SENDERS: _specs(names.SENDERS, (("status",),), (("kind",),)),
    # expire_at = recorded + dead-letter record retention (shared/deadletters.py)
    names.DEAD_LETTERS: _specs(names.DEAD_LETTERS, (("queue",),), (("reason",),), (("created_at",),), (("request_id",),),
                           (("state",),)) + (_expiring(names.DEAD_LETTERS),),
    # _id = subject id; looked up by _id. expire_at only on transient keys (a request's probes, a dead letter's
    # body): their deletion is the crypto-shredding of what they encrypt. People's keys never carry it.
    names.DATA_KEYS: (_expiring(names.DATA_KEYS),),
    # _id = sequence number (int)
    names.AUDIT: _specs(names.AUDIT, (("subject_id",),), (("action",),)),
    # _id = "head" | "checkpoint:<seq, 12 digits>" (shared/audit.py); the head moves by compare-and-set on seq
    names.AUDIT_META: _specs(names.AUDIT_META, (("seq",),)),
    # expire_at only on request jobs (intake): a job never answered (its message dead-lettered) goes with it
    names.JOBS: _specs(names.JOBS, (("kind",),), (("state",),)) + (_expiring(names.JOBS),),
    # Retention and access requests (services/lifecycle/retention.py, destruction_acts.py, access.py)
    # _id = enrollment id; next_on = ISO date of the next retention step (archive or destruction)
    names.RETENTION: _specs(names.RETENTION, (("subject_id",),), (("stage",),), (("next_on",),)),
    # _id = event id (the signed act's id)
    names.RETENTION_EVENTS: _specs(names.RETENTION_EVENTS, (("subject_id",),)),
    # _id = act id
    names.DESTRUCTION_ACTS: _specs(names.DESTRUCTION_ACTS, (("state",),)),
    # _id = access request id; due_on = ISO date of the last business day to answer
    names.ACCESS_REQUESTS: _specs(names.ACCESS_REQUESTS, (("subject_id",),), (("state",),), (("due_on",),)),
    # _id = transfer request id; the export sealed to the recipient (services/lifecycle/transfers.py)
    names.TRANSFERS: _specs(names.TRANSFERS, (("subject_id",),), (("recipient_id",),)),
    # _id = "<enrollment id>:given" | "<request id>:withdrawn"; who signed and accepted, encrypted
    # (services/lifecycle/consents.py)
    names.CONSENTS: _specs(names.CONSENTS, (("subject_id",),)),
}


def _check_declarations() -> None:
    for collection, specs in COLLECTIONS.items():
        names = [spec.name for spec in specs]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate index names in {collection}")
        for spec in specs:
            if spec.collection != collection:
                raise ValueError(f"index {spec.name} declared under {collection} but names {spec.collection}")


_check_declarations()


def indexes_of(collection: str) -> tuple[IndexSpec, ...]:
    """The declared indexes of a collection; UnknownCollection for an undeclared one."""
    try:
        return COLLECTIONS[collection]
    except (KeyError, TypeError):
        raise UnknownCollection(f"collection {collection!r} is not declared in papilla.shared.store.indexes") from None


def indexed_fields(collection: str) -> tuple[str, ...]:
    """Field paths that may be filtered and sorted on (besides `_id`), in declaration order."""
    seen: dict[str, None] = {}
    for spec in indexes_of(collection):
        for path in spec.fields:
            seen.setdefault(path, None)
    return tuple(seen)


def materialized_fields(collection: str) -> tuple[str, ...]:
    """Indexed fields plus the fields partial filters read: what SQLite keeps in columns."""
    seen = dict.fromkeys(indexed_fields(collection))
    for spec in indexes_of(collection):
        for path in spec.partial_fields:
            seen.setdefault(path, None)
    return tuple(seen)


def unique_indexes(collection: str) -> tuple[IndexSpec, ...]:
    return tuple(spec for spec in indexes_of(collection) if spec.unique)


def expiring_field(collection: str) -> str | None:
    """The field of the collection's TTL index, or None when its documents never expire by themselves."""
    for spec in indexes_of(collection):
        if spec.expires:
            return spec.fields[0]
    return None


def expiring_collections() -> tuple[str, ...]:
    """Collections with a TTL index (operational data only; see the module docstring)."""
    return tuple(name for name in COLLECTIONS if expiring_field(name))
