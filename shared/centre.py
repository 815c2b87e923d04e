"""The processing centre's shared context: one per worker process.

Holds the store, the envelope cipher, the sender registry, the IIN hasher,
the centre's X25519 key for opening sealed packets, and the results
publisher. Built from `Settings`; keys are created on first use for a
one-machine setup (production provisions them).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from .config import Settings
from .crypto import sealing
from .crypto.envelope import EnvelopeCipher
from .crypto.iin import IinHasher
from .crypto.keys import KeyProvider
from .crypto.providers import open_key_provider
from .crypto.registry import SenderRegistry
from .store import open_store
from .store.base import Store

CENTRE_KEY_FILE = "centre-x25519.pem"


def centre_key_path(settings: Settings) -> Path:
    return settings.key_dir / CENTRE_KEY_FILE


def load_or_create_centre_key(settings: Settings) -> X25519PrivateKey:
    path = centre_key_path(settings)
    if not path.exists():
        settings.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            sealing.save_private_key(sealing.generate_centre_key(), path)
        except FileExistsError:
            pass  # another process created it first
    return sealing.load_centre_private_key(path)


def centre_public_key(settings: Settings) -> X25519PublicKey:
    return load_or_create_centre_key(settings).public_key()


@dataclass
class Centre:
    settings: Settings
    store: Store
    cipher: EnvelopeCipher
    senders: SenderRegistry
    hasher: IinHasher
    centre_key: X25519PrivateKey
    publisher: object  # ResultPublisher | MemoryResultSink
    keys: KeyProvider | None = None  # KEKs and the separate pepper / audit / depersonalization secrets

    @classmethod
    def open(cls, settings: Settings, publisher=None, store: Store | None = None) -> "Centre":
        from .results import ResultPublisher

        settings.home.mkdir(parents=True, exist_ok=True)
        store = store or open_store(settings.store_uri)
        keys = open_key_provider(settings)
        return cls(
            settings=settings,
            store=store,
            cipher=EnvelopeCipher(store, keys),
            senders=SenderRegistry(store),
            hasher=IinHasher.from_provider(keys),
            keys=keys,
            centre_key=load_or_create_centre_key(settings),
            publisher=publisher if publisher is not None else ResultPublisher(settings.broker_url),
        )

    def close(self) -> None:
        self.publisher.close()
        self.store.close()
