"""Pick the key provider the configuration names (``PAPILLA_KEY_PROVIDER``).

``file``   `FileKeyProvider` over ``PAPILLA_KEY_DIR`` (and the separate
           ``PAPILLA_DEPERSONALIZATION_KEY_DIR``); creates missing keys on
           first use unless told not to: development and one-machine demos.
``pkcs11`` `Pkcs11KeyProvider` on the token ``PAPILLA_PKCS11_TOKEN`` of the
           library ``PAPILLA_PKCS11_MODULE``, PIN from ``PAPILLA_PKCS11_PIN`` or
           ``PAPILLA_PKCS11_PIN_FILE``; never creates keys except through
           `initialise` / `rotate_kek`: production.

See docs/keys.md.
"""
from __future__ import annotations

from typing import Any

from .errors import KeyProviderConfigError
from .keys import FileKeyProvider, KeyProvider
from .pkcs11_keys import Pkcs11Config, Pkcs11KeyProvider

PROVIDERS = ("file", "pkcs11")

__all__ = ["open_key_provider", "PROVIDERS"]


def open_key_provider(settings: Any, *, create: bool | None = None) -> KeyProvider:
    """The provider for ``settings`` (`papilla.shared.config.Settings`).

    ``create``: may missing keys be made on first use?  ``None`` = the
    provider's default (file: yes, pkcs11: no).
    """
    kind = getattr(settings, "key_provider", "file")
    if kind == "file":
        return FileKeyProvider(settings.key_dir, create=True if create is None else create,
                               depersonalization_dir=getattr(settings, "depersonalization_key_dir", None))
    if kind == "pkcs11":
        config = Pkcs11Config(module=settings.pkcs11_module, token_label=settings.pkcs11_token,
                              pin=settings.pkcs11_pin, label_prefix=settings.pkcs11_label_prefix,
                              lock_file=settings.pkcs11_lock_file)
        return Pkcs11KeyProvider(config, create=bool(create))
    raise KeyProviderConfigError(f"PAPILLA_KEY_PROVIDER must be one of {', '.join(PROVIDERS)}")
