"""The shipped Prometheus configuration and alert rules, checked by Prometheus' own promtool."""
from __future__ import annotations

import yaml

from tests.helpers.prometheus import INFRA as PROM
from tests.helpers.prometheus import promtool


def test_rules_and_config_are_valid():
    for args in (("check", "rules", "papilla-rules.yml"), ("check", "config", "prometheus.yml")):
        done = promtool(*args)
        assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rule_unit_tests_pass():
    done = promtool("test", "rules", "tests/papilla-rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_every_alert_has_severity_summary_description_and_runbook():
    groups = yaml.safe_load((PROM / "papilla-rules.yml").read_text())["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert len(alerts) >= 12
    for rule in alerts:
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())


def test_every_alert_has_a_promtool_case_that_makes_it_fire():
    tests = yaml.safe_load((PROM / "tests" / "papilla-rules.test.yml").read_text())["tests"]
    fired = {a["alertname"] for t in tests for a in t.get("alert_rule_test", []) if a["exp_alerts"]}
    groups = yaml.safe_load((PROM / "papilla-rules.yml").read_text())["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    assert alerts - fired == set()


def test_every_runbook_link_has_its_section_in_the_operations_guide():
    doc = (PROM.parents[1] / "docs" / "operations.md").read_text()
    headings = {line[4:].strip().lower() for line in doc.splitlines() if line.startswith("### ")}
    groups = yaml.safe_load((PROM / "papilla-rules.yml").read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"] if "alert" in r):
        assert rule["alert"].lower() in headings, rule["alert"]
