"""Papilla's Grafana dashboards, written as JSON beside this file (`python infra/grafana/dashboards.py`).

Kept as code so every panel is one line of PromQL here; the JSON files are
what Grafana imports (Dashboards > Import, or file provisioning: see
docs/operations.md#dashboards). `${DS_PROMETHEUS}` is the data source input
asked for on import; `$__rate_interval` is Grafana's rate window.
Gauges read from the store at scrape time (pending review, dead letters,
the lifecycle deadlines) are the same figure from every lifecycle worker:
they are shown with `max`, never `sum` (two workers would double them).
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
R = "$__rate_interval"


def panel(title: str, exprs: list[tuple[str, str]], *, kind: str = "timeseries", unit: str = "short",
          w: int = 8, h: int = 8, description: str = "", thresholds: list[tuple[str, float | None]] = ()) -> dict:
    """One panel; exprs are (PromQL, legend) pairs. Grid position is filled in by `layout`."""
    p = {"type": kind, "title": title, "description": description, "datasource": DS,
         "gridPos": {"w": w, "h": h},
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
         "targets": [{"datasource": DS, "expr": e, "legendFormat": legend, "refId": chr(65 + i)}
                     for i, (e, legend) in enumerate(exprs)],
         "options": {}}
    if thresholds:
        p["fieldConfig"]["defaults"]["thresholds"] = {
            "mode": "absolute", "steps": [{"color": c, "value": v} for c, v in thresholds]}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background", "graphMode": "none"}
    return p


def layout(panels: list[dict]) -> list[dict]:
    x = y = row_h = 0
    for i, p in enumerate(panels):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["gridPos"].update(x=x, y=y)
        p["id"] = i + 1
        x, row_h = x + w, max(row_h, h)
    return panels


def dashboard(uid: str, title: str, description: str, panels: list[dict]) -> dict:
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
        "uid": uid, "title": title, "description": description, "tags": ["papilla"],
        "timezone": "browser", "schemaVersion": 36, "version": 1, "editable": True,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "templating": {"list": []}, "annotations": {"list": []}, "links": [],
        "panels": layout(panels),
    }


GREEN_RED = [("green", None), ("red", 1)]


def pipeline() -> dict:
    q = 'queue=~"papilla\\\\.(enroll|request|match|lifecycle|command)"'
    return dashboard("papilla-pipeline", "Papilla: pipeline", "Throughput, latency, backlog, dead letters, "
                     "workers and gallery of the processing centre.", [
        panel("Workers up", [('sum by (job) (up{job=~"papilla-.*"})', "{{job}}")], kind="stat", w=6, h=5,
              thresholds=[("red", None), ("green", 1)]),
        panel("Dead letters unresolved", [("max(papilla_dead_letters_unresolved)", "unresolved")], kind="stat",
              w=6, h=5, thresholds=GREEN_RED),
        panel("Pending review", [("max(papilla_pending_review_enrollments)", "enrollments")], kind="stat", w=6, h=5,
              thresholds=[("green", None), ("orange", 10)]),
        panel("Gallery enrollments", [("sum(papilla_gallery_enrollments)", "active"),
                                      ("max(papilla_gallery_log_head_seq)", "gallery log head")],
              kind="stat", w=6, h=5),
        panel("Messages handled / s by queue", [(f"sum by (queue) (rate(papilla_messages_total[{R}]))", "{{queue}}")],
              unit="ops", w=12),
        panel("Outcomes / s", [(f"sum by (outcome) (rate(papilla_messages_total[{R}]))", "{{outcome}}")],
              unit="ops", w=12),
        panel("End-to-end latency by request kind (p50, p95)", [
            (f"histogram_quantile(0.5, sum by (le, kind) (rate(papilla_request_duration_seconds_bucket[{R}])))",
             "p50 {{kind}}"),
            (f"histogram_quantile(0.95, sum by (le, kind) (rate(papilla_request_duration_seconds_bucket[{R}])))",
             "p95 {{kind}}")], unit="s", w=12,
              description="From the centre receiving a packet or request to its result being stored."),
        panel("Handling time per message (p95) by queue", [
            (f"histogram_quantile(0.95, sum by (le, queue) (rate(papilla_message_duration_seconds_bucket[{R}])))",
             "{{queue}}")], unit="s", w=12),
        panel("Backlog: messages ready", [(f"sum by (queue) (rabbitmq_detailed_queue_messages_ready{{{q}}})",
                                           "{{queue}}")], w=8),
        panel("Unacknowledged (in flight and delayed retries)", [
            (f"sum by (queue) (rabbitmq_detailed_queue_messages_unacked{{{q}}})", "{{queue}}")], w=8),
        panel("Consumers per queue", [(f"sum by (queue) (rabbitmq_detailed_queue_consumers{{{q}}})", "{{queue}}")],
              w=8),
        panel("Dead-lettered and refused / h", [
            ("sum by (queue, reason) (increase(papilla_dead_letters_total[1h]))", "dead {{queue}} {{reason}}"),
            ("sum by (reason) (increase(papilla_refusals_total[1h]))", "refused {{reason}}")], w=12),
        panel("Error ratio by queue", [(f"(sum by (queue) (rate(papilla_messages_total{{outcome=~\"retried|dead_lettered\"}}[{R}])) "
                                        f"or 0 * sum by (queue) (rate(papilla_messages_total[{R}]))) "
                                        f"/ sum by (queue) (rate(papilla_messages_total[{R}]))", "{{queue}}")],
              unit="percentunit", w=12, description="Deliveries that raised (retried or dead-lettered); 0 when none."),
        panel("Extraction time per finger (p50, p95)", [
            (f"histogram_quantile(0.5, sum by (le) (rate(papilla_extract_seconds_bucket[{R}])))", "p50"),
            (f"histogram_quantile(0.95, sum by (le) (rate(papilla_extract_seconds_bucket[{R}])))", "p95")],
              unit="s", w=8),
        panel("Finger quality and minutiae (median)", [
            (f"histogram_quantile(0.5, sum by (le) (rate(papilla_finger_quality_bucket[{R}])))", "quality"),
            (f"histogram_quantile(0.5, sum by (le) (rate(papilla_finger_minutiae_bucket[{R}])))", "minutiae")], w=8),
        panel("Gallery shard lag (log entries)", [
            ("max by (instance) (papilla_gallery_log_head_seq) - on (instance) group_right "
             "papilla_gallery_applied_seq", "shard {{shard}}")], w=8),
        panel("Search time by kind (p50, p95)", [
            (f"histogram_quantile(0.5, sum by (le, kind) (rate(papilla_match_seconds_bucket[{R}])))", "p50 {{kind}}"),
            (f"histogram_quantile(0.95, sum by (le, kind) (rate(papilla_match_seconds_bucket[{R}])))", "p95 {{kind}}")],
              unit="s", w=24, description="From the match actor's start to its answer (scatter-gather included)."),
        panel("Resident memory by worker", [("process_resident_memory_bytes{job=~\"papilla-.*\"}", "{{job}} {{instance}}")],
              unit="bytes", w=12),
        panel("CPU by worker", [(f"rate(process_cpu_seconds_total{{job=~\"papilla-.*\"}}[{R}])", "{{job}} {{instance}}")],
              unit="percentunit", w=12),
    ])


def compliance() -> dict:
    return dashboard("papilla-compliance", "Papilla: compliance", "What the law requires on time: same-day "
                     "destruction, access requests, retention, audit chain.", [
        panel("Destructions overdue (not done the day received)", [("max(papilla_destruction_applications_overdue)",
                                                                    "overdue")], kind="stat", w=6, h=5,
              thresholds=GREEN_RED, description="Rules 406 p.11: destruction on the day the application is received."),
        panel("Access requests overdue", [("max(papilla_access_requests_overdue)", "overdue")], kind="stat", w=6, h=5,
              thresholds=GREEN_RED, description="Rules 395 p.15-16: answer within 3 business days."),
        panel("Access requests due tomorrow", [("max(papilla_access_requests_due_tomorrow)", "due")], kind="stat",
              w=6, h=5, thresholds=[("green", None), ("orange", 1)]),
        panel("Audit chain verified", [("min(papilla_audit_verify_ok)", "intact")], kind="stat", w=6, h=5,
              thresholds=[("red", None), ("green", 1)]),
        panel("Destructions on application: per day same day vs late, and applications overdue", [
            ("sum by (timeliness) (increase(papilla_destructions_total[1d]))", "{{timeliness}}"),
            ("max(papilla_destruction_applications_overdue)", "overdue now")], w=12,
              description="Rules 406 p.11. Overdue: applications received on an earlier day and still not carried "
                          "out (lifecycle jobs still pending)."),
        panel("Access requests open", [("max(papilla_access_requests_open)", "open"),
                                       ("max(papilla_access_requests_overdue)", "overdue")], w=12),
        panel("Records due for destruction at end of retention", [("max(papilla_retention_due_subjects)", "due")],
              w=8, description="003 Art.17: destroyed by an act approved by the head of the unit."),
        panel("Audit chain length", [("max(papilla_audit_chain_length)", "entries")], w=8),
        panel("Time since last audit verification", [("time() - max(papilla_audit_verify_timestamp_seconds)", "age")],
              unit="s", w=8),
        panel("Dead letters unresolved", [("max(papilla_dead_letters_unresolved)", "unresolved")], w=12),
        panel("Refusals by reason / h", [("sum by (reason) (increase(papilla_refusals_total[1h]))", "{{reason}}")], w=12),
    ])


def main() -> None:
    for name, board in (("papilla-pipeline.json", pipeline()), ("papilla-compliance.json", compliance())):
        (HERE / name).write_text(json.dumps(board, indent=2) + "\n")
        print(f"wrote {HERE / name}: {len(board['panels'])} panels")


if __name__ == "__main__":
    main()
