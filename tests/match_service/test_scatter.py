"""Scatter-gather over real RabbitMQ: shard processes each hold a partition of the gallery; the gathered answer
equals a whole-gallery search, and a shard killed mid-way gives a partial-result error, never "no duplicate"."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest

from papilla.services.admission import intake
from papilla.services.lifecycle import enrollments
from papilla.services.match import matching, scatter
from papilla.services.match.gallery import Gallery
from papilla.shared.crypto.iin import make_test_iin

from tests.lifecycle.conftest import centre  # noqa: F401  (fixture)
from tests.lifecycle.test_admission import sealed_packet
from tests.pipeline.harness import Vhost

PARTS = 2


def _start_shard(part: int, env: dict, log_dir) -> tuple[subprocess.Popen, object]:
    log_path = log_dir / f"shard-{part}-{time.monotonic_ns()}.log"
    proc = subprocess.Popen([sys.executable, "-m", "papilla.cli", "shard", "serve", "--part", str(part),
                             "--parts", str(PARTS)], env=env, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while b"ready" not in log_path.read_bytes():
        assert proc.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, "shard did not start"
        time.sleep(0.1)
    return proc, log_path


def _enroll(centre, fvc_dir, name: str, k: int, fingers: dict[int, str], settle: bool = True) -> str:
    accepted = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, f"st-unit-01-{name}",
                                                              make_test_iin(date(1960 + k, 2, 2), k % 2 == 0, k),
                                                              fingers))
    if settle:
        found = matching.deduplicate(centre, Gallery(centre), accepted.enrollment_id)
        assert enrollments.settle(centre, accepted.enrollment_id, *found).status == "ACTIVE"
    return accepted.enrollment_id


@pytest.fixture
def shards_env(centre, tmp_path):  # noqa: F811
    with Vhost() as url:
        env = {**os.environ, "PAPILLA_BROKER_URL": url, "PAPILLA_METRICS_PORT": "0"}
        procs = []
        yield env, url, procs
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)


def test_gathered_search_equals_whole_gallery_and_a_killed_shard_is_a_partial_result(centre, fvc_dir, tmp_path,
                                                                                       shards_env):  # noqa: F811
    env, url, procs = shards_env
    people = {"a": {1: "101_1", 2: "102_1"}, "b": {1: "103_1", 2: "104_1"}, "c": {1: "105_1", 2: "106_1"},
              "d": {1: "107_1", 2: "108_1"}}
    enrolled = {name: _enroll(centre, fvc_dir, name, k + 1, f) for k, (name, f) in enumerate(people.items())}
    for part in range(PARTS):
        procs.append(_start_shard(part, env, tmp_path)[0])
    sg = scatter.ScatterGather(url, scatter.ScatterSettings(parts=PARTS, deadline_s=20))
    # the same person again under another IIN, and a newcomer
    dup = _enroll(centre, fvc_dir, "c-again", 9, {1: "105_4", 2: "106_4"}, settle=False)
    new = _enroll(centre, fvc_dir, "new", 10, {1: "109_1", 2: "110_1"}, settle=False)
    whole = Gallery(centre)
    for enrollment_id in (dup, new):
        gathered, seq = scatter.deduplicate(centre, sg, enrollment_id)
        expected, whole_seq = matching.deduplicate(centre, whole, enrollment_id)
        assert [(c["enrollment_id"], round(c["score"], 4)) for c in gathered] == \
               [(c["enrollment_id"], round(c["score"], 4)) for c in expected]
        assert seq == whole_seq
    assert [c["enrollment_id"] for c in scatter.deduplicate(centre, sg, dup)[0]] == [enrolled["c"]]

    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait(30)
    quick = scatter.ScatterGather(url, scatter.ScatterSettings(parts=PARTS, deadline_s=2))
    with pytest.raises(scatter.PartialResult) as err:
        scatter.deduplicate(centre, quick, dup)
    assert err.value.missing == [1] and err.value.code == "partial_result"
    # a replica of the lost partition starts, catches up with the change log, and the search completes again
    procs.append(_start_shard(1, env, tmp_path)[0])
    assert [c["enrollment_id"] for c in scatter.deduplicate(centre, sg, dup)[0]] == [enrolled["c"]]
