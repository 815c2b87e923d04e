"""Grafana dashboards (infra/grafana/*.json): current with their source, laid out, and every query valid PromQL
over metrics that the code exports (or that are listed as planned)."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import yaml

from papilla.services.lifecycle.lifecycle_metrics import LifecycleDeadlines
from papilla.shared import metrics
from tests.helpers.prometheus import promtool

INFRA = Path(__file__).resolve().parents[2] / "infra"
BOARDS = ("papilla-pipeline.json", "papilla-compliance.json")


def load_builder():
    spec = importlib.util.spec_from_file_location("papilla_dashboards", INFRA / "grafana" / "dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exprs() -> list[str]:
    boards = [json.loads((INFRA / "grafana" / b).read_text()) for b in BOARDS]
    return [t["expr"] for b in boards for p in b["panels"] for t in p["targets"]]


def test_json_files_are_what_the_builder_writes():
    builder = load_builder()
    assert json.loads((INFRA / "grafana" / BOARDS[0]).read_text()) == builder.pipeline()
    assert json.loads((INFRA / "grafana" / BOARDS[1]).read_text()) == builder.compliance()


def test_panels_fit_the_grid_without_overlapping():
    for name in BOARDS:
        board = json.loads((INFRA / "grafana" / name).read_text())
        cells = set()
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
        for p in board["panels"]:
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not mine & cells, p["title"]
            cells |= mine
            assert p["targets"] and p["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_every_query_is_valid_promql(tmp_path):
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"dashboard:check:{i}", "expr": e.replace("$__rate_interval", "5m")}
        for i, e in enumerate(exprs())]}]}
    (tmp_path / "check.yml").write_text(yaml.safe_dump(rules))
    done = promtool("check", "rules", str(tmp_path / "check.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_papilla_metric_named_in_dashboards_and_alerts_exists_or_is_planned():
    exported = {m._name for ms in (metrics.COMMON, *metrics.OWNED.values()) for m in ms}
    exported |= {name for fams in metrics.StoreGauges.FAMILIES.values() for name, _ in fams}
    exported |= {"papilla_station_spool_packets", "papilla_station_spool_oldest_age_seconds"}
    exported |= set(LifecycleDeadlines.NAMES)
    known = exported | set(metrics.PLANNED)
    rules = (INFRA / "prometheus" / "papilla-rules.yml").read_text()
    used = set(re.findall(r"\bpapilla_[a-z_]+", " ".join(exprs()) + rules))
    suffixes = ("_bucket", "_count", "_sum", "_total", "_info")
    unknown = {u for u in used if u not in known and not any(u.endswith(s) and u[: -len(s)] in known for s in suffixes)}
    assert not unknown
