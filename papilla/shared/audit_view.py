"""What an auditor is shown of an audit entry (`papilla audit show` and the centre console's auditor view):
personal keys dropped, IIN-shaped text redacted, binary named, since an entry may be forged; and whether the
entry's MAC holds."""
from __future__ import annotations

from .audit import IIN_LIKE, PERSONAL_KEYS
from .audit_chain import entry_is_authentic

SHOWN = ("seq", "at", "action", "subject_id", "actor", "rule")


def safe_value(value):
    """A value as shown: dicts without personal keys, IIN-shaped text as [redacted], bytes as [binary]."""
    if isinstance(value, dict):
        return {k: safe_value(v) for k, v in value.items() if str(k).lower() not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [safe_value(v) for v in value]
    if isinstance(value, str) and IIN_LIKE.search(value):
        return "[redacted]"
    if isinstance(value, (bytes, bytearray)):
        return "[binary]"
    return value


def shown(trail, entry: dict) -> dict:
    """The entry's SHOWN fields and details, made safe, and `mac_ok`."""
    row = {k: safe_value(entry.get(k)) for k in SHOWN}
    row["details"] = safe_value(entry.get("details")) if isinstance(entry.get("details"), dict) else {}
    row["mac_ok"] = entry_is_authentic(trail, entry)
    return row
