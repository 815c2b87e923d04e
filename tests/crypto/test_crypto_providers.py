"""Both key providers behind one interface: file (development) and PKCS#11 on SoftHSM2."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import replace
from datetime import date

import pytest
from pkcs11 import Attribute
from pkcs11 import exceptions as p11e

from papilla.shared.config import Settings
from papilla.shared.crypto.envelope import EnvelopeCipher
from papilla.shared.crypto.errors import (KeyProviderConfigError, KeyProviderError, KeyUnwrapError, MissingKey,
                                          UnknownKeyId)
from papilla.shared.crypto.iin import IinHasher, make_test_iin
from papilla.shared.crypto.keys import (AUDIT, DEPERSONALIZATION, IIN_PEPPER, PURPOSES, FileKeyProvider,
                                        KeyProvider)
from papilla.shared.crypto.pkcs11_keys import Pkcs11KeyProvider
from papilla.shared.crypto.providers import open_key_provider

IIN = make_test_iin(date(1990, 5, 17), True, 42)


def twin(provider):
    """A second instance over the same keys, as another process would open them."""
    if isinstance(provider, FileKeyProvider):
        return FileKeyProvider(provider.directory)
    return Pkcs11KeyProvider(provider._config, create=False)


def test_both_satisfy_the_interface(any_keys):
    assert isinstance(any_keys, KeyProvider)


def test_wrap_unwrap_checks_associated_data_and_kek(any_keys):
    kek = any_keys.current_kek_id()
    assert kek == "kek-1"
    nonce, wrapped = any_keys.wrap_key(kek, b"k" * 32, b"subject-a|1")
    assert len(nonce) == 12 and len(wrapped) == 48 and b"k" * 32 not in wrapped
    assert twin(any_keys).unwrap_key(kek, nonce, wrapped, b"subject-a|1") == b"k" * 32
    with pytest.raises(KeyUnwrapError):
        any_keys.unwrap_key(kek, nonce, wrapped, b"subject-b|1")
    with pytest.raises(KeyUnwrapError):
        any_keys.unwrap_key(kek, nonce, bytes([wrapped[0] ^ 1]) + wrapped[1:], b"subject-a|1")
    with pytest.raises(UnknownKeyId):
        any_keys.unwrap_key("kek-9", nonce, wrapped, b"subject-a|1")
    with pytest.raises(UnknownKeyId):
        any_keys.unwrap_key("../kek-1", nonce, wrapped, b"subject-a|1")


def test_rotation_is_seen_by_other_instances_and_old_keks_still_unwrap(any_keys):
    other = twin(any_keys)
    nonce, wrapped = any_keys.wrap_key(any_keys.current_kek_id(), b"d" * 32, b"aad")
    assert any_keys.rotate_kek() == "kek-2"
    assert other.current_kek_id() == "kek-2"
    assert other.kek_ids() == ["kek-1", "kek-2"]
    assert other.unwrap_key("kek-1", nonce, wrapped, b"aad") == b"d" * 32


def test_retire_destroys_an_old_kek_and_refuses_the_current(any_keys):
    nonce, wrapped = any_keys.wrap_key(any_keys.current_kek_id(), b"d" * 32, b"aad")
    other = twin(any_keys)
    assert other.unwrap_key("kek-1", nonce, wrapped, b"aad") == b"d" * 32  # handle cached by `other`
    any_keys.rotate_kek()
    with pytest.raises(KeyProviderError, match="current"):
        any_keys.retire_kek("kek-2")
    any_keys.retire_kek("kek-1")
    assert any_keys.kek_ids() == ["kek-2"]
    for provider in (any_keys, other):
        with pytest.raises(UnknownKeyId):
            provider.unwrap_key("kek-1", nonce, wrapped, b"aad")
    assert any_keys.rotate_kek() == "kek-3"  # retired numbers are never reused


def test_envelope_round_trip_through_each_provider(any_keys, store):
    cipher = EnvelopeCipher(store, any_keys)
    blob = cipher.encrypt("subj-1", "subjects", "subj-1", "name", b"Aigerim")
    any_keys.rotate_kek()
    assert EnvelopeCipher(store, twin(any_keys)).decrypt("subj-1", "subjects", "subj-1", "name", blob) == b"Aigerim"
    assert cipher.rewrap("subj-1") is True
    assert store.get("data_keys", "subj-1")["kek_id"] == "kek-2"
    assert cipher.decrypt("subj-1", "subjects", "subj-1", "name", blob) == b"Aigerim"


def test_secrets_are_separate_stable_and_untouched_by_kek_rotation_or_shredding(any_keys, store):
    macs = {purpose: any_keys.mac(purpose, b"same input") for purpose in PURPOSES}
    assert len(set(macs.values())) == len(PURPOSES)  # three distinct keys, none reused
    hasher = IinHasher.from_provider(any_keys)
    before = hasher.hash(IIN)
    cipher = EnvelopeCipher(store, any_keys)
    cipher.encrypt("subj-1", "subjects", "subj-1", "iin", IIN.encode())
    any_keys.rotate_kek()
    cipher.shred("subj-1")
    other = twin(any_keys)
    assert {purpose: other.mac(purpose, b"same input") for purpose in PURPOSES} == macs
    assert IinHasher.from_provider(other).hash(IIN) == before
    with pytest.raises(KeyProviderError, match="purpose"):
        any_keys.mac("kek-1", b"x")


def test_file_pepper_hash_matches_existing_hashes(keys):
    """Hashes already in a store (made from the pepper bytes) stay valid through `mac`."""
    assert IinHasher.from_provider(keys).hash(IIN) == IinHasher(keys.iin_pepper()).hash(IIN)


def test_file_depersonalization_key_lives_apart(key_dir, tmp_path):
    apart = tmp_path / "depers"
    provider = FileKeyProvider(key_dir, depersonalization_dir=apart)
    assert sorted(provider.initialise()) == sorted(["kek-1", *PURPOSES])
    assert sorted(os.listdir(key_dir)) == ["audit.key", "iin-pepper.key", "kek-1.key"]
    assert os.listdir(apart) == ["depersonalization.key"]
    assert stat.S_IMODE(os.stat(apart).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(apart / "depersonalization.key").st_mode) == 0o600
    assert provider.initialise() == []  # once only


@pytest.mark.parametrize("kind", ["file", "pkcs11"])
def test_without_create_a_missing_key_is_an_error_naming_the_init_command(kind, key_dir, hsm_config):
    provider = (FileKeyProvider(key_dir, create=False) if kind == "file"
                else Pkcs11KeyProvider(hsm_config, create=False))
    with pytest.raises(MissingKey, match="papilla centre init"):
        provider.current_kek_id()
    for purpose in (IIN_PEPPER, AUDIT, DEPERSONALIZATION):
        with pytest.raises(MissingKey, match="papilla centre init"):
            provider.mac(purpose, b"x")
    assert not os.path.exists(key_dir)
    assert sorted(provider.initialise()) == sorted(["kek-1", *PURPOSES])
    assert provider.current_kek_id() == "kek-1" and len(provider.mac(IIN_PEPPER, b"x")) == 32
    assert provider.initialise() == []


def test_hsm_keys_never_leave_the_token(hsm_keys):
    hsm_keys.initialise()
    labels = [f"{hsm_keys._config.label_prefix}-{name}" for name in ("kek-1", *PURPOSES)]

    def read_values(session):
        for label in labels:
            (obj,) = session.get_objects({Attribute.LABEL: label})
            assert obj[Attribute.SENSITIVE] is True and obj[Attribute.EXTRACTABLE] is False
            assert obj[Attribute.TOKEN] is True
            with pytest.raises(p11e.AttributeSensitive):
                obj[Attribute.VALUE]
    hsm_keys._call(read_values)


WRONG_PIN = """
import sys
from papilla.shared.crypto.errors import KeyProviderConfigError
from papilla.shared.crypto.pkcs11_keys import Pkcs11Config, Pkcs11KeyProvider
try:
    Pkcs11KeyProvider(Pkcs11Config(module=sys.argv[1], token_label=sys.argv[2], pin="99999999")).kek_ids()
except KeyProviderConfigError as exc:
    print(exc)
"""


def test_hsm_misconfiguration_is_a_clear_error_without_the_pin(hsm_config):
    out = subprocess.run([sys.executable, "-c", WRONG_PIN, hsm_config.module, hsm_config.token_label],
                         capture_output=True, text=True, timeout=60)
    assert "PIN was refused" in out.stdout and "99999999" not in out.stdout + out.stderr
    with pytest.raises(KeyProviderConfigError, match="another PIN"):
        hsm_keys = Pkcs11KeyProvider(hsm_config)
        hsm_keys.kek_ids()
        Pkcs11KeyProvider(replace(hsm_config, pin="99999999")).kek_ids()
    with pytest.raises(KeyProviderConfigError, match="token"):
        Pkcs11KeyProvider(replace(hsm_config, token_label="no-such-token")).kek_ids()
    with pytest.raises(KeyProviderConfigError, match="module"):
        Pkcs11KeyProvider(replace(hsm_config, module="/nonexistent/libp11.so")).kek_ids()
    with pytest.raises(KeyProviderConfigError, match="PIN"):
        Pkcs11KeyProvider(replace(hsm_config, pin=""))


def test_settings_choose_the_provider_and_mask_the_pin(monkeypatch, tmp_path, softhsm_env, hsm_config):
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    for name, value in softhsm_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAPILLA_PKCS11_LABEL_PREFIX", hsm_config.label_prefix)
    settings = Settings.from_env()
    assert settings.masked()["pkcs11_pin"] == "***" and softhsm_env["PAPILLA_PKCS11_PIN"] not in repr(settings)
    provider = open_key_provider(settings)
    assert isinstance(provider, Pkcs11KeyProvider)
    with pytest.raises(MissingKey):  # production provider never makes keys on first use
        provider.current_kek_id()
    monkeypatch.setenv("PAPILLA_KEY_PROVIDER", "file")
    file_provider = open_key_provider(Settings.from_env())
    assert isinstance(file_provider, FileKeyProvider)
    file_provider.mac(DEPERSONALIZATION, b"x")
    assert (tmp_path / "depersonalization" / "depersonalization.key").exists()
    monkeypatch.setenv("PAPILLA_KEY_PROVIDER", "vault")
    with pytest.raises(KeyProviderConfigError, match="file, pkcs11"):
        open_key_provider(Settings.from_env())
