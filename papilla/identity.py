"""Sender identities on one machine: signing keys of stations and services, and their registration.

In production the centre registers a station's public key delivered out of
band; here `ensure_sender` creates the key file (0600) on first use and
registers its public half, which is what `papilla station init` does.
"""
from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papilla.shared.config import Settings
from papilla.shared.crypto import sealing


def sender_key_path(settings: Settings, sender_id: str) -> Path:
    return settings.station_key_dir / f"{sender_id}.ed25519.pem"


def load_or_create_sender_key(settings: Settings, sender_id: str) -> Ed25519PrivateKey:
    path = sender_key_path(settings, sender_id)
    if not path.exists():
        try:
            sealing.save_private_key(sealing.generate_signing_key(), path)
        except FileExistsError:
            pass
    return sealing.load_signing_key(path)


def ensure_sender(centre, settings: Settings, sender_id: str, kind: str, label: str = "") -> Ed25519PrivateKey:
    key = load_or_create_sender_key(settings, sender_id)
    centre.senders.register(sender_id, kind, key.public_key(), label=label)
    return key
