"""Fixtures for crypto tests: a real SQLiteStore (or, before it existed, a
tiny dict fake with the same interface) and a FileKeyProvider in tmp_path."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from papilla.shared.crypto.keys import FileKeyProvider

try:
    from papilla.shared.store.sqlite import SQLiteStore
except ImportError:  # pragma: no cover - store not merged
    SQLiteStore = None


class DictStore:
    """Minimal in-memory stand-in: equality filters, set/unset, DuplicateKeyError."""

    def __init__(self) -> None:
        self.collections: dict[str, dict] = {}

    def _c(self, name: str) -> dict:
        return self.collections.setdefault(name, {})

    @staticmethod
    def _match(doc: dict, filter: dict) -> bool:
        return all(doc.get(k) == v for k, v in filter.items())

    def insert(self, collection, doc):
        from papilla.shared.crypto._store import DuplicateKeyError
        c = self._c(collection)
        if doc["_id"] in c:
            raise DuplicateKeyError(collection, "_id_")
        c[doc["_id"]] = copy.deepcopy(doc)

    def get(self, collection, _id):
        doc = self._c(collection).get(_id)
        return copy.deepcopy(doc)

    def find(self, collection, filter, sort=None, limit=None):
        return [copy.deepcopy(d) for d in self._c(collection).values() if self._match(d, filter)]

    def find_one(self, collection, filter):
        found = self.find(collection, filter)
        return found[0] if found else None

    def update(self, collection, filter, set=None, unset=None, inc=None, upsert_doc=None):
        for doc in self._c(collection).values():
            if self._match(doc, filter):
                doc.update(copy.deepcopy(set or {}))
                for key in unset or []:
                    doc.pop(key, None)
                return 1
        return 0

    def delete(self, collection, filter):
        c = self._c(collection)
        ids = [k for k, d in c.items() if self._match(d, filter)]
        for k in ids:
            del c[k]
        return len(ids)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "papilla.sqlite3"


@pytest.fixture
def store(db_path: Path):
    if SQLiteStore is None:
        yield DictStore()
        return
    s = SQLiteStore(db_path)
    yield s
    s.close()


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def keys(key_dir: Path) -> FileKeyProvider:
    return FileKeyProvider(key_dir)


@pytest.fixture
def assert_clean():
    return assert_clean_message


def assert_clean_message(exc: BaseException, *secrets: bytes | str) -> None:
    """No secret value (as text, bytes repr or hex) appears in str/repr of exc."""
    text = f"{exc!s} {exc!r}"
    for secret in secrets:
        if isinstance(secret, bytes):
            assert secret.hex() not in text
            assert repr(secret)[2:-1] not in text
            try:
                assert secret.decode() not in text
            except UnicodeDecodeError:
                pass
        else:
            assert secret not in text
