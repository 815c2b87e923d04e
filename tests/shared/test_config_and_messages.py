from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from papilla.cli import main
from papilla.shared.config import Settings, mask_secrets
from papilla.shared.messages import (EnrollmentPacket, Finger, MessageError, encode,
                                     parse_request)
from tests.helpers.builders import identity

IIN = "900101300123"


def test_config_prints_effective_values_with_password_masked(monkeypatch, capsys):
    monkeypatch.setenv("PAPILLA_BROKER_URL", "amqp://papilla:s3cr3t-pw@10.0.0.5:5672/prod")
    monkeypatch.setenv("PAPILLA_WORKER_THREADS", "6")
    assert main(["config", "--json"]) == 0
    out = capsys.readouterr().out
    values = json.loads(out)
    assert "s3cr3t-pw" not in out
    assert values["broker_url"] == "amqp://papilla:***@10.0.0.5:5672/prod"
    assert values["worker_threads"] == "6"


def test_bad_number_in_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("PAPILLA_PREFETCH", "lots")
    with pytest.raises(ValueError, match="PAPILLA_PREFETCH"):
        Settings.from_env()


def test_mask_leaves_urls_without_credentials_alone():
    assert mask_secrets("mongodb://db1:27017/papilla") == "mongodb://db1:27017/papilla"


def _packet(**changes) -> EnrollmentPacket:
    now = datetime.now(timezone.utc)
    fields = dict(packet_id="st-1-0001", station_id="st-1", operator_id="op-1", captured_at=now,
                  **identity(IIN, "Nurlan Example", operator_id="op-1", signed_on=now),
                  fingers=[Finger(position=1, status="captured", image=b"\x89PNG....", format="png", dpi=500)]
                  + [Finger(position=p, status="amputated") for p in range(2, 11)])
    fields.update(changes)
    return EnrollmentPacket(**fields)


def test_packet_round_trips_through_json():
    packet = _packet()
    assert parse_request(encode(packet)) == packet


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["fingers"][0].update(position=11), "fingers.0.position"),
    (lambda d: d["fingers"][0].update(image=None), "fingers.0"),
    (lambda d: d["applicant"].update(iin="12345"), "applicant.iin"),
    # a missing consent is the law's question (refused unless the basis is mandatory, shared/legal/eligibility);
    # a consent that is not the Annex record is the schema's
    (lambda d: d["consent"].pop("conditions_explained"), "consent.conditions_explained"),
    (lambda d: d.update(packet_id="bad id with spaces"), "packet_id"),
    (lambda d: d["fingers"].append(dict(d["fingers"][1])), "fingers"),
])
def test_invalid_packet_names_the_field_and_never_echoes_personal_data(mutate, field):
    data = json.loads(encode(_packet()))
    mutate(data)
    with pytest.raises(MessageError) as err:
        parse_request(json.dumps(data).encode())
    assert any(path == field for path, _ in err.value.problems), err.value.problems
    assert IIN not in str(err.value) and "Nurlan" not in str(err.value)


def test_unknown_schema_and_garbage_are_specific_errors():
    with pytest.raises(MessageError, match="schema"):
        parse_request(b'{"schema": "papilla.enrollment/9"}')
    with pytest.raises(MessageError, match="Invalid JSON"):
        parse_request(b"\x00\x01 not json")
