"""The recorded accuracy figure the CI guard holds the engine to (`accuracy-record.json` beside this module).

`papilla bench accuracy --record` measures FVC2002 B (all pairs) and writes the record with the command that
produced it; `tests/engine/test_accuracy_guard.py` fails when the all-pairs mean EER rises more than
`GUARD_MARGIN` over it. Re-record after an engine change that moves accuracy (and say so in the commit).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

RECORD_FILE = Path(__file__).with_name("accuracy-record.json")

#: The guard's tolerance on the all-pairs mean EER (absolute: 0.003 = 0.3 points).
GUARD_MARGIN = 0.003
#: Per-database tolerance (one database has 280 genuine pairs: one pair is ~0.36 points at the EER).
GUARD_MARGIN_PER_DB = 0.0075


def record_from(result: dict, command: str) -> dict:
    """The record of one `accuracy.run` result: all-pairs EER per database and mean, engine and extractor."""
    block = result["protocols"]["all"]
    return {
        "engine_version": result["engine_version"],
        "extractor": result["extractor"],
        "extractor_version": result.get("extractor_version"),
        "extractor_code": result.get("extractor_code"),
        "protocol": "all",
        "eer": {name: rates["eer"] for name, rates in block["databases"].items()},
        "mean_eer": block["mean"]["eer"],
        "command": command,
        "recorded_on": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }


def write_record(result: dict, command: str, path: Path = RECORD_FILE) -> dict:
    rec = record_from(result, command)
    path.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    return rec


def load_record(path: Path = RECORD_FILE) -> dict:
    return json.loads(path.read_text())
