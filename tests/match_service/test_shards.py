"""Incremental shards: adding and removing entries never repacks the shard, and scans see exactly the live
entries with the scores the 1:1 matcher gives."""
from __future__ import annotations

import numpy as np
import pytest

from papilla.services.extract.engine import extract
from papilla.services.match import engine
from papilla.services.match.shards import FingerShard, ShardParams
from papilla.shared.formats.images import load_image


@pytest.fixture(scope="module")
def prepared(fvc_dir):
    db = fvc_dir / "DB1_B"
    return [engine.prepare(extract(load_image(db / f"{f}_{i}.tif").pixels, dpi=500))
            for f in range(101, 107) for i in (1, 2)]


def test_scan_sees_live_entries_only_with_matcher_scores_across_blocks_and_compaction(prepared):
    shard = FingerShard(ShardParams(block_templates=3, first_rows=8, compact_dead_fraction=0.5))
    for row, t in enumerate(prepared):
        shard.add(row, t)
    assert len(shard.blocks) == 4
    sealed = shard.blocks[0]
    for row in (0, 1, 5):            # block 0 loses 2 of 3: compacted alone; block 1 loses one
        shard.remove(row)
    assert shard.blocks[0] is not sealed and shard.blocks[0].n == 1
    shard.add(2, prepared[7])        # re-adding a row replaces it (e.g. unblocked with a new record)
    live = {2: prepared[7], **{r: prepared[r] for r in (3, 4, 6, 7, 8, 9, 10, 11)}}
    probe = prepared[4]
    rows, scores = shard.scan(probe)
    assert sorted(rows.tolist()) == sorted(live)
    for row, score in zip(rows.tolist(), scores.tolist()):
        assert score == pytest.approx(engine.compare(probe, live[row]), rel=1e-5)
    # the index path scores only the rows asked for (and ignores rows it does not hold)
    sel_rows, sel_scores = shard.score_rows(probe, np.array([9, 0, 3, 2], np.int64))
    assert sorted(sel_rows.tolist()) == [2, 3, 9]
    assert dict(zip(sel_rows.tolist(), sel_scores.tolist())) == {r: s for r, s in zip(rows.tolist(), scores.tolist())
                                                                 if r in (2, 3, 9)}
    assert shard.count == len(live)


def test_a_template_read_back_from_a_compact_block_is_the_one_stored(prepared):
    """Geometry and validity live in the corner cells of the stored words: reading them back gives the prepared
    template exactly (what compaction relies on), and the stored words are 6 per cylinder."""
    shard = FingerShard(ShardParams(block_templates=4, first_rows=8))
    for row, t in enumerate(prepared):
        shard.add(row, t)
    assert all(b.cyl.shape[1] == 6 for b in shard.blocks)
    for row, t in enumerate(prepared):
        back = shard.blocks[shard.where_block[row]].template(int(shard.where_slot[row]), shard.validity)
        assert np.array_equal(back.geo, t.geo) and np.array_equal(back.cyl, t.cyl)
    assert len(shard.validity.codes) < sum(len(t) for t in prepared)   # validity words repeat
