"""Fixtures for crypto tests: a real SQLiteStore and a FileKeyProvider in tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

from papilla.shared.crypto.keys import FileKeyProvider

from papilla.shared.store.sqlite import SQLiteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "papilla.sqlite3"


@pytest.fixture
def store(db_path: Path):
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
