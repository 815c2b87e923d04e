from __future__ import annotations

import pytest

from papilla.shared.crypto.errors import SenderConflict, SenderNotFound
from papilla.shared.crypto.registry import SENDERS, SenderRegistry
from papilla.shared.crypto.sealing import generate_signing_key


@pytest.fixture
def registry(store):
    return SenderRegistry(store)


def test_register_get_idempotent(registry, store):
    key = generate_signing_key().public_key()
    rec = registry.register("station-ala-01", "station", key, label="Almaty branch 1")
    assert rec.active and rec.kind == "station" and rec.label == "Almaty branch 1"
    again = registry.register("station-ala-01", "station", key)
    assert again.public_key_bytes == rec.public_key_bytes and again.registered_at == rec.registered_at
    doc = store.get(SENDERS, "station-ala-01")
    assert doc["public_key"] == rec.public_key_bytes and len(doc["public_key"]) == 32
    assert registry.get("station-ala-01").public_key_bytes == rec.public_key_bytes
    assert registry.get("nobody") is None
    assert registry.get("../bad id") is None


def test_different_key_refused(registry):
    registry.register("station-1", "station", generate_signing_key().public_key())
    with pytest.raises(SenderConflict) as info:
        registry.register("station-1", "station", generate_signing_key().public_key())
    assert info.value.code == "key_conflict" and "different public key" in str(info.value)


def test_different_kind_refused(registry):
    key = generate_signing_key().public_key()
    registry.register("svc-1", "service", key)
    with pytest.raises(SenderConflict) as info:
        registry.register("svc-1", "station", key)
    assert info.value.code == "kind_conflict"


def test_revoke(registry):
    key = generate_signing_key().public_key()
    registry.register("station-2", "station", key)
    rec = registry.revoke("station-2", "scanner stolen")
    assert rec.status == "revoked" and not rec.active and rec.revoke_reason == "scanner stolen"
    first_revoked_at = rec.revoked_at
    assert registry.revoke("station-2", "again").revoked_at == first_revoked_at  # idempotent
    with pytest.raises(SenderConflict) as info:  # a revoked id never comes back, with any key
        registry.register("station-2", "station", key)
    assert info.value.code == "revoked"
    with pytest.raises(SenderConflict):
        registry.register("station-2", "station", generate_signing_key().public_key())
    with pytest.raises(SenderNotFound):
        registry.revoke("station-404", "x")
    with pytest.raises(ValueError):
        registry.revoke("station-2", "  ")


def test_list_and_filters(registry):
    for sid, kind in [("st-b", "station"), ("st-a", "station"), ("egov", "service")]:
        registry.register(sid, kind, generate_signing_key().public_key())
    registry.revoke("st-b", "decommissioned")
    assert [r.sender_id for r in registry.list()] == ["egov", "st-a", "st-b"]
    assert [r.sender_id for r in registry.list(kind="station")] == ["st-a", "st-b"]
    assert [r.sender_id for r in registry.list(status="active")] == ["egov", "st-a"]
    assert [r.sender_id for r in registry.list(kind="station", status="revoked")] == ["st-b"]


@pytest.mark.parametrize("sid", ["", "-lead", "has space", "x" * 129, "кириллица", None])
def test_bad_ids_and_args(registry, sid):
    with pytest.raises(ValueError):
        registry.register(sid, "station", generate_signing_key().public_key())


def test_bad_kind_and_key(registry):
    with pytest.raises(ValueError):
        registry.register("s", "robot", generate_signing_key().public_key())
    with pytest.raises(TypeError):
        registry.register("s", "station", b"\x00" * 32)
