"""The processing centre's shared context: one per worker process.

Holds the store, the envelope cipher, the party registry, the IIN hasher,
the centre's keys (X25519 to open sealed packets, Ed25519 to sign the
results it seals to each requester) and the results publisher. Built from
`Settings`; the centre's keys must exist (`papilla centre init`): opening a
centre never creates them.
"""
from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from .config import Settings
from .crypto.envelope import EnvelopeCipher
from .crypto.iin import IinHasher
from .crypto.keys import KeyProvider
from .crypto.providers import open_key_provider
from .crypto.registry import SenderRegistry
from .legal import states
from .parties import CentreKeys, load_centre_keys
from .results import ResultPublisher, SealedResults
from .store import open_store
from .store.base import Store


@dataclass
class Centre:
    settings: Settings
    store: Store
    cipher: EnvelopeCipher
    senders: SenderRegistry
    hasher: IinHasher
    keys: CentreKeys
    publisher: object  # SealedResults over ResultPublisher | MemoryResultSink
    vault: Store | None = None            # wrapped data keys: apart from the data, so a copy of the data
                                          # (a backup, a stolen file) is unreadable once a key is shredded
    provider: KeyProvider | None = None   # KEKs and the separate pepper / audit / depersonalization secrets

    @property
    def centre_key(self) -> X25519PrivateKey:
        return self.keys.box

    @classmethod
    def open(cls, settings: Settings, publisher=None, store: Store | None = None) -> "Centre":
        keys = load_centre_keys(settings)          # not the centre, or not initialised: a clear error
        settings.home.mkdir(parents=True, exist_ok=True)
        store = store or open_store(settings.store_uri)
        vault = open_store(settings.key_vault_uri)
        provider = open_key_provider(settings, create=False)   # made by `papilla centre init`
        states.migrate_legacy_subjects(store)   # records from before the state machine (idempotent, cheap after)
        senders = SenderRegistry(store)
        inner = publisher if publisher is not None else ResultPublisher(settings.broker_url)
        return cls(settings=settings, store=store, cipher=EnvelopeCipher(vault, provider), senders=senders,
                   hasher=IinHasher.from_provider(provider), keys=keys, provider=provider, vault=vault,
                   publisher=SealedResults(inner, senders, keys.signing))

    def close(self) -> None:
        self.publisher.close()
        self.store.close()
        if self.vault is not None:
            self.vault.close()
