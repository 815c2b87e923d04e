"""Fixtures for crypto tests: a real SQLiteStore and a FileKeyProvider in tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

from papilla.shared.crypto.keys import FileKeyProvider
from papilla.shared.crypto.pkcs11_keys import Pkcs11KeyProvider

from papilla.shared.store.sqlite import SQLiteStore

from tests.helpers.softhsm import fresh_config


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
def hsm_config(softhsm_env):
    return fresh_config(softhsm_env)


@pytest.fixture
def hsm_keys(hsm_config) -> Pkcs11KeyProvider:
    """A PKCS#11 provider on SoftHSM2 with its own label prefix, keys made on first use."""
    return Pkcs11KeyProvider(hsm_config, create=True)


@pytest.fixture(params=["file", "pkcs11"])
def any_keys(request, key_dir):
    """Each provider in turn, both making keys on first use."""
    if request.param == "file":
        return FileKeyProvider(key_dir)
    return request.getfixturevalue("hsm_keys")


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
