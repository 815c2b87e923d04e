"""Irreversible anonymization for statistics (Rules 395 p.20-21): the export cannot be linked back to a subject.
No value in it joins to any store document (ids, keyed hashes, IINs, names, stations, operators, times finer
than a year), every published combination of quasi-identifiers is held by at least k records in the store,
and a person unique in their combination is not published at all."""
from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date

import pytest

from papilla.cli import main
from papilla.services.lifecycle import anonymized, commands
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.principals import sign

from tests.helpers.retention import enroll, principal
from tests.helpers.centre import job

BASIS = "public_service_authentication"
# (birth, male, registered): five women born 1985 registered 2024, six men born 1991 registered 2023, and one
# man born 1940 registered 2024: unique in his combination
PEOPLE = ([(date(1985, 1 + i, 3), False, date(2024, 2, 1 + i)) for i in range(5)]
          + [(date(1991, 2, 1 + i), True, date(2023, 6, 1 + i)) for i in range(6)]
          + [(date(1940, 5, 5), True, date(2024, 3, 3))])


@pytest.fixture
def registry(centre):
    iins = []
    for n, (birth, male, registered) in enumerate(PEOPLE):
        iin = make_test_iin(birth, male, 40 + n)
        enroll(centre, f"enr-stat-{n:02d}", iin, BASIS, registered)
        iins.append(iin)
    centre.iins = iins
    centre.admin = principal(centre, "pr-stat-admin", "administrator")
    return centre


def order(centre, who, export_id="exp-2026-q4"):
    message = anonymized.ExportOrder(export_id=export_id, purpose="registrations by year, age and sex",
                                     principal_id=who.party_id)
    return sign(message, "principal_signature", who.signing)


def store_values(centre) -> set[str]:
    """Every identifying value the store holds: ids, keyed hashes, IINs, stations, operators, exact times."""
    values = set(centre.iins)
    for collection in ("subjects", "enrollments", "biometrics", "retention", "gallery", "data_keys", "senders"):
        store = centre.vault if collection == "data_keys" else centre.store
        for doc in store.find(collection, {}):
            values.add(str(doc["_id"]))
            for field in ("subject_id", "iin_hash", "station_id", "operator_id", "captured_at", "created_at"):
                if doc.get(field):
                    values.add(str(doc[field]))
    return {v for v in values if len(v) >= 6}


def test_the_export_cannot_be_linked_back_to_a_subject(registry):
    out = anonymized.export(registry, order(registry, registry.admin))
    text = json.dumps(out)
    assert "p.20-21" in out["rule"] and out["k"] == 5
    assert not [v for v in store_values(registry) if v in text]            # no field joins back to the store
    rows = json.dumps(out["rows"])    # (the citation names the seed file by its hash: outside the rows)
    assert not re.search(r"\d{12}|[0-9a-f]{16,}|[A-Za-z0-9+/]{24,}", rows)  # no IIN, hash, id or encoded blob
    assert "Unit Person" not in text and "station" not in text

    published = {tuple(row[q] for q in anonymized.QUASI_IDENTIFIERS): row["records"] for row in out["rows"]}
    truth = Counter(anonymized.quasi_identifiers(registry, e, registry.store.get("subjects", e["subject_id"]),
                                                 anonymized.AnonymizationParams())
                    for e in registry.store.find("enrollments", {}))
    for key, records in published.items():                               # k-anonymity against the store itself
        assert records == truth[key] >= out["k"]
    assert published == {(2024, "30-39", "F", BASIS, "ACTIVE"): 5, (2023, "30-39", "M", BASIS, "ACTIVE"): 6}
    assert out["suppressed_records"] == 1                                  # the man born 1940: not published
    entry = registry.store.find_one("audit", {"action": "anonymized_export"})
    assert entry["actor"] == "pr-stat-admin" and entry["details"]["suppressed"] == 1


def test_only_the_administrator_exports_and_depersonalized_records_count_as_unknown(registry):
    operator = principal(registry, "pr-stat-op", "operator")
    with pytest.raises(Refusal) as refused:
        anonymized.export(registry, order(registry, operator, "exp-by-operator"))
    assert refused.value.code == "role_not_permitted" and "p.20-21" in refused.value.rule

    for iin in registry.iins[:5]:
        done = commands._compute(registry, dict(job(registry, "block", iin), _id=f"req-{iin[-4:]}",
                                                action="depersonalize"))
        assert done.status == "DEPERSONALIZED"
    out = anonymized.export(registry, order(registry, registry.admin, "exp-after-dp"))
    assert {(r["age_band"], r["sex"]): r["records"] for r in out["rows"]} == {("unknown", "unknown"): 5,
                                                                            ("30-39", "M"): 6}


def test_the_cli_writes_the_export_and_refuses_k_below_two(registry, tmp_path, capsys):
    out = tmp_path / "stats.json"
    argv = ["lifecycle", "anonymized-export", "--id", "exp-cli", "--purpose", "yearly statistics",
            "--principal", "pr-stat-admin", "--out", str(out)]
    assert main(argv) == 0
    assert json.loads(out.read_text())["rows"] and "2 row(s), 1 record(s)" in capsys.readouterr().out
    for bad in (["--k", "1"], ["--out", str(tmp_path / "no" / "such" / "dir.json")]):
        assert main(argv + bad) == 2
        err = capsys.readouterr().err
        assert err.startswith("papilla: ") and err.count("\n") == 1 and "Traceback" not in err
