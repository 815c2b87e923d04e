"""docs/legal.md names, for every rule, the code that enforces it and the tests that show it (issue 19): the
table is checked against the code, so a renamed test or module, or a new rule without a row, fails here."""
from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import pytest

from papilla.services.admission import intake
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal import uses
from papilla.shared.legal.rules import RULES

from tests.helpers.legal_records import sealed_enrollment

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "legal.md"
ROW = re.compile(r"^\| `(?P<rule>[a-z0-9_]+)` \| (?P<citation>[^|]+) \| (?P<code>[^|]+) \| (?P<tests>[^|]+) \|$")


def table() -> dict[str, dict]:
    text = DOC.read_text().split("## Rules, the code that enforces them, the tests that show them", 1)[1]
    return {m["rule"]: m.groupdict() for m in map(ROW.match, text.splitlines()) if m}


def refs(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_every_rule_has_a_row_with_its_citation():
    rows = table()
    assert sorted(rows) == sorted(RULES)
    for rule_id, row in rows.items():
        assert row["citation"].strip() == RULES[rule_id].citation, rule_id


def test_every_code_file_named_exists_and_names_the_rule():
    for rule_id, row in table().items():
        files = refs(row["code"])
        assert files, f"{rule_id}: no code named"
        for name in files:
            path = ROOT / name
            assert path.is_file(), f"{rule_id}: {name} does not exist"
            assert f'"{rule_id}"' in path.read_text(), f"{rule_id}: {name} does not use the rule"


def test_every_test_named_exists():
    for rule_id, row in table().items():
        named = refs(row["tests"])
        assert named, f"{rule_id}: no test named"
        for ref in named:
            file, _, function = ref.partition("::")
            tree = ast.parse((ROOT / file).read_text())
            assert function in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, f"{rule_id}: {ref}"


def test_the_purpose_table_in_the_doc_is_the_code_table():
    assert uses.markdown_table() in DOC.read_text()


def test_an_altered_packet_is_refused_citing_cryptographic_protection(centre, fvc_dir):
    sealed = bytearray(sealed_enrollment(centre, fvc_dir, "st-unit-01-altered",
                                         make_test_iin(date(1980, 1, 1), True, 95), {1: "101_1"}))
    sealed[-5] ^= 0x01
    with pytest.raises(Refusal) as err:
        intake.accept_enrollment(centre, bytes(sealed))
    assert err.value.rule == "Rules 406, p.13; Law Art.8" and centre.store.count("subjects", {}) == 0
