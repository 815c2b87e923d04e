"""Scatter-gather over real RabbitMQ: shard processes each hold a partition of the gallery; the gathered answer
equals a whole-gallery search, and a shard killed mid-way gives a partial-result error, never "no duplicate"."""
from __future__ import annotations

import signal

import pytest

from papilla.services.match import matching, scatter
from papilla.services.match.gallery import Gallery

from tests.helpers.shards import PARTS, enroll_person, start_shard

pytestmark = pytest.mark.broker


def test_gathered_search_equals_whole_gallery_and_a_killed_shard_is_a_partial_result(centre, fvc_dir, tmp_path,
                                                                                       shards_env):
    env, url, procs = shards_env
    people = {"a": {1: "101_1", 2: "102_1"}, "b": {1: "103_1", 2: "104_1"}, "c": {1: "105_1", 2: "106_1"},
              "d": {1: "107_1", 2: "108_1"}}
    enrolled = {name: enroll_person(centre, fvc_dir, name, k + 1, f) for k, (name, f) in enumerate(people.items())}
    for part in range(PARTS):
        procs.append(start_shard(part, env, tmp_path)[0])
    sg = scatter.ScatterGather(url, scatter.ScatterSettings(parts=PARTS, deadline_s=20))
    # the same person again under another IIN, and a newcomer
    dup = enroll_person(centre, fvc_dir, "c-again", 9, {1: "105_4", 2: "106_4"}, settle=False)
    new = enroll_person(centre, fvc_dir, "new", 10, {1: "109_1", 2: "110_1"}, settle=False)
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
    procs.append(start_shard(1, env, tmp_path)[0])
    assert [c["enrollment_id"] for c in scatter.deduplicate(centre, sg, dup)[0]] == [enrolled["c"]]
