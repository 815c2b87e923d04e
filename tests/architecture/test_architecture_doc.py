"""docs/architecture.md's layer drawing and flow table are the ones the code gives today."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("architecture_tool", ROOT / "tools" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_document_matches_the_code():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "architecture.py"), "--check"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_the_drawing_shows_the_layers_and_no_upward_arrow():
    tool = _tool()
    blocks = tool.generated_blocks()
    assert "services_workers --> services_admission" in blocks["layers"]
    assert "services_admission --> services_extract" in blocks["layers"]
    for edge in ("shared -->", "services_match --> services_extract", "services_lifecycle --> services_admission"):
        assert edge not in blocks["layers"]


def test_a_changed_import_makes_the_check_fail(tmp_path):
    tool = _tool()
    document = (ROOT / "docs" / "architecture.md").read_text()
    stale = document.replace("    services_workers --> services_admission\n", "")
    assert tool.render(stale, tool.generated_blocks()) == document != stale


def test_every_route_has_a_consumer():
    block = _tool().flows_block().splitlines()
    flows = block[block.index("|---|---|---|---|---|") + 1:]
    assert flows and all("| - |" not in row.split("`")[-1][:6] for row in flows)
    for row in flows:
        consumed_in = row.split("|")[4].strip()
        assert consumed_in.startswith("services.workers"), row
