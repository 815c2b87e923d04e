"""Irreversible anonymization for statistics and distribution (Rules 395 p.20-21).

`export` turns the registry into counts: one row per combination of a few coarse quasi-identifiers
(registration year, age band at registration, sex, legal basis, record state) with the number of records and
aggregate measures (captured fingers, mean quality). No row carries an IIN, a name, an id of any store document,
a keyed hash, a station, an operator, a time finer than the year, a template or an image; so no field joins back
to the store. A combination held by fewer than `k` records is not published (k-anonymity over the
quasi-identifiers kept); the suppressed records are only counted in one total. The procedure keeps nothing that
could restore the original data (p.21): the export is computed, not a transformed copy of the records.

The order is signed by a principal whose role may export (`roles.PERMISSIONS["anonymized_export"]`) and audited.
Known limit (docs/legal.md): two exports taken before and after a single enrollment differ by that one record;
publish exports on a fixed schedule, not on demand for a small change.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from papilla.shared import audit, clock
from papilla.shared.centre import Centre
from papilla.shared.crypto.errors import DataKeyDestroyed, IntegrityError
from papilla.shared.crypto.iin import birth_date_from_iin, iin_is_male
from papilla.shared.legal.dates import age_on
from papilla.shared.legal.rules import rule
from papilla.shared.names import ENROLLMENTS, SUBJECTS
from papilla.shared.principals import check_signed_by

SCHEMA = "papilla.statistics/1"
RULE_ID = "anonymization_before_distribution"
QUASI_IDENTIFIERS = ("registration_year", "age_band", "sex", "legal_basis", "state")
#: states counted: records that were registered (not refused, not in progress)
COUNTED_STATES = ("ACTIVE", "ARCHIVED")


@dataclass(frozen=True)
class AnonymizationParams:
    k: int = 5                  #: smallest group published; smaller combinations are suppressed
    age_band_years: int = 10    #: width of the age bands at registration (0-9, 10-19, …)


class ExportOrder(BaseModel):
    """The signed order to export statistics (who asked, and why: the purpose of the distribution)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    schema_: str = Field(default="papilla.statistics-order/1", alias="schema")
    export_id: str = Field(min_length=3, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]+$")
    purpose: str = Field(min_length=3, max_length=256)
    principal_id: str = Field(min_length=3, max_length=128)
    principal_signature: bytes | None = None


def _age_band(birth: date, on: date, width: int) -> str:
    age = age_on(birth, on)
    low = max(age, 0) // width * width
    return f"{low}-{low + width - 1}"


def _demographics(centre: Centre, subject: dict | None) -> tuple[date | None, str]:
    """Birth date and sex from the subject's IIN (decrypted here, never exported); unknown when depersonalized
    or destroyed."""
    if subject is None or "iin" not in subject:
        return None, "unknown"
    try:
        iin = centre.cipher.decrypt(subject["_id"], SUBJECTS, subject["_id"], "iin", subject["iin"]).decode()
    except (DataKeyDestroyed, IntegrityError):
        return None, "unknown"
    return birth_date_from_iin(iin), "M" if iin_is_male(iin) else "F"


def quasi_identifiers(centre: Centre, enrollment: dict, subject: dict | None, params: AnonymizationParams) -> tuple:
    registered = datetime.fromisoformat(enrollment["created_at"]).date()
    birth, sex = _demographics(centre, subject)
    band = _age_band(birth, registered, params.age_band_years) if birth else "unknown"
    return (registered.year, band, sex, enrollment.get("legal_basis") or "unknown", enrollment["state"])


def tabulate(centre: Centre, params: AnonymizationParams = AnonymizationParams()) -> tuple[list[dict], int]:
    """(published rows, number of suppressed records)."""
    counts: Counter = Counter()
    fingers: dict[tuple, list[int]] = defaultdict(list)
    quality: dict[tuple, list[float]] = defaultdict(list)
    subjects: dict[str, dict | None] = {}
    for enrollment in centre.store.find(ENROLLMENTS, {"state": {"$in": list(COUNTED_STATES)}}):
        sid = enrollment["subject_id"]
        if sid not in subjects:
            subjects[sid] = centre.store.get(SUBJECTS, sid)
        key = quasi_identifiers(centre, enrollment, subjects[sid], params)
        counts[key] += 1
        status = enrollment.get("finger_status", {})
        fingers[key].append(sum(1 for s in status.values() if s == "captured"))
        scores = list(enrollment.get("finger_quality", {}).values())
        if scores:
            quality[key].append(sum(scores) / len(scores))
    rows, suppressed = [], 0
    for key in sorted(counts, key=str):
        if counts[key] < params.k:
            suppressed += counts[key]
            continue
        row = dict(zip(QUASI_IDENTIFIERS, key), records=counts[key],
                   mean_captured_fingers=round(sum(fingers[key]) / len(fingers[key]), 1))
        row["mean_quality"] = round(sum(quality[key]) / len(quality[key])) if quality[key] else None
        rows.append(row)
    return rows, suppressed


def export(centre: Centre, order: ExportOrder, params: AnonymizationParams = AnonymizationParams()) -> dict:
    """The anonymized statistics, for an authorised principal; audited."""
    check_signed_by(centre.senders, order.principal_id, order.principal_signature, order, "anonymized_export")
    rows, suppressed = tabulate(centre, params)
    citation = rule(RULE_ID).citation
    audit.append(centre, "anonymized_export", subject_id=None, actor=order.principal_id, rule=citation,
                 details={"export_id": order.export_id, "rows": len(rows), "suppressed": suppressed, "k": params.k})
    return {"schema": SCHEMA, "generated_on": clock.today().isoformat(), "purpose": order.purpose, "rule": citation,
            "k": params.k, "quasi_identifiers": list(QUASI_IDENTIFIERS), "rows": rows,
            "suppressed_records": suppressed}
