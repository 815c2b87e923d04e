"""The document store: one small interface (`Store`), a SQLite and a MongoDB backend.

    from papilla.shared.store import open_store
    with open_store("sqlite:///var/lib/papilla/papilla.sqlite3") as store:
        store.insert("subjects", {"_id": "s1", "iin_hash": "..."})

Collections and indexes are declared in `indexes.py`; the contract both
backends honour is described in `base.py`.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from .base import DuplicateKeyError, InvalidDocument, Store, StoreError, UnknownCollection, UnsupportedQuery

__all__ = [
    "DuplicateKeyError",
    "InvalidDocument",
    "Store",
    "StoreError",
    "UnknownCollection",
    "UnsupportedQuery",
    "open_store",
    "parse_mongo_database",
]

DEFAULT_MONGO_DATABASE = "papilla"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DATABASE_NAME = re.compile(r"^[^/\\. \"$\x00]{1,63}$")


def open_store(uri: str) -> Store:
    """Open the store named by `uri`.

    * ``sqlite:///abs/path.sqlite3`` (absolute) or ``sqlite:relative/path.sqlite3`` -> SQLiteStore;
      options ``?synchronous=NORMAL`` (default FULL: every commit survives power loss; NORMAL is
      ~10x faster on writes and may lose the last commits, never corrupts) and ``busy_timeout=<s>``
    * ``mongodb://...`` or ``mongodb+srv://...`` -> MongoStore; the database is the URI path
      (``mongodb://host/papilla_prod``), default ``papilla``. Writes use write concern "majority"
      with journaling unless the URI sets ``w=``; reads read concern "majority" unless it sets
      ``readConcernLevel=``.

    ValueError for anything else; the message never repeats the URI (it may hold credentials).
    """
    if not isinstance(uri, str):
        raise ValueError("store URI must be a string")
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else None
    if scheme == "sqlite":
        from .sqlite import SQLiteStore  # lazy: each backend imports only its own driver

        path, options = _sqlite_path_and_options(uri)
        return SQLiteStore(path, **options)
    if scheme in ("mongodb", "mongodb+srv"):
        from .mongo import MongoStore  # lazy: pymongo is imported only where MongoDB is used

        return MongoStore(uri, parse_mongo_database(uri), **_mongo_options(uri))
    if scheme is None:
        raise ValueError("store URI has no scheme; expected sqlite:///path, sqlite:path or mongodb://...")
    raise ValueError(f"unsupported store URI scheme {scheme!r}; expected sqlite or mongodb")


def _sqlite_path_and_options(uri: str) -> tuple[str, dict]:
    """File path and SQLiteStore options (``?synchronous=NORMAL&busy_timeout=10``) of a sqlite URI."""
    rest, _, query = uri[len("sqlite:"):].partition("?")
    if rest.startswith("//"):
        # sqlite:///abs/path (and sqlite:////abs/path) -> "/abs/path"; sqlite://host/... is not a thing
        if not rest.startswith("///"):
            raise ValueError("sqlite URI must be sqlite:///absolute/path or sqlite:relative/path")
        rest = "/" + rest.lstrip("/")
    if not rest or rest.endswith("/"):
        raise ValueError("sqlite URI names no database file")
    options: dict = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key == "synchronous":
            options["synchronous"] = value
        elif key == "busy_timeout":
            options["busy_timeout"] = float(value)
        else:
            raise ValueError(f"unknown sqlite URI option {key!r}; known: synchronous, busy_timeout")
    return rest, options


def _mongo_options(uri: str) -> dict:
    """Write and read concern "majority" unless the URI sets its own (``?w=...``, ``?readConcernLevel=...``)."""
    keys = {key.lower() for key, _ in parse_qsl(urlsplit(uri).query, keep_blank_values=True)}
    options: dict = {"write_concern": None, "journal": None} if "w" in keys else {}
    if "readconcernlevel" in keys:
        options["read_concern"] = None
    return options


def parse_mongo_database(uri: str) -> str:
    """Database name from a MongoDB URI's path, or `papilla`; ValueError (without the URI) if invalid."""
    path = urlsplit(uri).path
    name = path.lstrip("/")
    if not name:
        return DEFAULT_MONGO_DATABASE
    if not _DATABASE_NAME.match(name):
        raise ValueError("invalid MongoDB database name in store URI")
    return name
