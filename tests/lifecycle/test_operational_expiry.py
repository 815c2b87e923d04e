"""A request's job (its encrypted probe templates) and the probes' key expire; a person's records do not.

An identify request whose message is dead-lettered is never answered, so nothing deletes its job: its
`expire_at` (PAPILLA_JOBS_RETENTION_DAYS) does, in the store and, by the probe key's own expiry, in the
key vault, where deleting the key shreds the probes in every backup of the data as well.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from papilla.identity import ensure_sender
from papilla.services.admission import intake
from papilla.shared.config import operational_retention
from papilla.shared.crypto import sealing
from papilla.shared.crypto.envelope import DATA_KEYS
from papilla.shared.messages import Finger, IdentifyRequest, encode
from papilla.shared.names import job_key_subject
from papilla.shared.store import open_store
from papilla.shared.store.expiry import delete_expired


def test_an_unanswered_request_job_and_its_probe_key_expire_with_the_jobs_retention(centre, fvc_dir):
    service_key = ensure_sender(centre, centre.settings, "svc-unit-01", "service")
    probe = (fvc_dir / "DB1_B" / "103_2.tif").read_bytes()
    request = IdentifyRequest(request_id="svc-unit-01-q9", reply_to="svc-unit-01", fingers=[
        Finger(position=2, status="captured", image=probe, format="tiff", dpi=500)])
    packet = sealing.seal(encode(request), sender_id="svc-unit-01", packet_id=request.request_id,
                          signing_key=service_key.signing, centre_public=centre.keys.box.public_key())
    intake.accept_request(centre, packet)
    with open_store(centre.settings.key_vault_uri) as vault:
        job, key = centre.store.get("jobs", request.request_id), vault.get(DATA_KEYS, job_key_subject(request.request_id))
        assert job["probes"] and key["state"] == "active"
        assert job["expire_at"] == key["expire_at"]
        days = operational_retention().jobs_days
        assert delete_expired(centre.store, datetime.now(timezone.utc) + timedelta(days=days - 1))["jobs"] == 0
        after = datetime.now(timezone.utc) + timedelta(days=days, seconds=1)
        assert delete_expired(centre.store, after)["jobs"] == 1
        assert delete_expired(vault, after)[DATA_KEYS] == 1
    assert centre.cipher.key_state(job_key_subject(request.request_id)) == "none"
