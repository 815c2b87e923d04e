"""A shard process serves its own /metrics: its gallery size, memory, the change-log entry it applied and its
lag behind the log, set by the shard itself (an operator sees a replica that is behind or catching up)."""
from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from papilla.services.match.gallery import partition_of
from papilla.shared import gallery_log
from papilla.shared.metrics import ShardLogLag, gallery_log_head

from tests.helpers.harness import wait_until
from tests.helpers.shards import PARTS, enroll_person, start_shard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def _active_in_part(centre, part: int) -> int:
    return sum(1 for c in gallery_log.changes_since(centre.store, 0)
               if c.get("active") and partition_of(c["subject_id"], PARTS) == part)


@pytest.mark.broker
def test_a_shard_process_exports_its_gallery_size_and_log_lag(centre, fvc_dir, tmp_path, shards_env):
    env, _url, procs = shards_env
    for k, name in enumerate("abc"):
        enroll_person(centre, fvc_dir, name, k + 1, {1: f"10{k + 1}_1"})
    port = _free_port()
    part = 1
    proc, _log = start_shard(part, {**env, "PAPILLA_METRICS_PORT": str(port - 10 - part)}, tmp_path)
    procs.append(proc)
    shard = (("shard", str(part)),)

    def caught_up(expected: int) -> bool:
        m = _scrape(port)
        head = gallery_log_head(centre.store)
        return (m.get(("papilla_gallery_enrollments", shard)) == expected
                and m.get(("papilla_gallery_applied_seq", shard)) == head
                and m.get(("papilla_gallery_log_head_seq", ())) == head
                and m.get(("papilla_gallery_log_lag", shard)) == 0)

    assert wait_until(lambda: caught_up(_active_in_part(centre, part)), timeout=60), _scrape(port)
    assert _scrape(port)[("papilla_gallery_memory_bytes", shard)] > 0
    # people join the gallery while the shard runs (until one lands in its partition): it follows the log
    before = _active_in_part(centre, part)
    for k in range(4, 11):
        enroll_person(centre, fvc_dir, f"p{k}", k + 1, {1: f"{100 + k}_1"})
        if _active_in_part(centre, part) > before:
            break
    expected = _active_in_part(centre, part)
    assert expected > before
    assert wait_until(lambda: caught_up(expected), timeout=60), _scrape(port)


def test_lag_is_head_minus_what_the_shard_applied(centre):
    for k in range(5):
        gallery_log.stamp(centre.store, f"enr-{k}", f"sub-{k}", active=True)
    applied = {"seq": 2}
    gauges = {f.name: f for f in ShardLogLag("3", lambda: applied["seq"], lambda: centre.store).collect()}
    assert gauges["papilla_gallery_log_head_seq"].samples[0].value == 5
    lag = gauges["papilla_gallery_log_lag"].samples[0]
    assert lag.labels == {"shard": "3"} and lag.value == 3
    applied["seq"] = 5
    gauges = {f.name: f for f in ShardLogLag("3", lambda: applied["seq"], lambda: centre.store).collect()}
    assert gauges["papilla_gallery_log_lag"].samples[0].value == 0
