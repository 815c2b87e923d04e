"""The in-memory gallery of a match worker, kept in step with the store's gallery change log.

Each active enrollment gets a row (an integer, never reused); its fingers go
into per-position incremental shards (`shards.py`) and, when the index is on,
into per-position LSH signatures (`index.py`). A worker may hold one partition
of the subjects (`GalleryParams.partition`): scatter-gather asks every
partition and fuses the answers.
"""
from __future__ import annotations

import logging
import threading
import zlib
from dataclasses import dataclass, field

import numpy as np

from papilla.services.match import engine, templates
from papilla.services.match.index import FingerIndex, IndexParams, candidates_for_probe
from papilla.services.match.shards import FingerShard, ShardParams
from papilla.shared import gallery_log, metrics
from papilla.shared.centre import Centre

log = logging.getLogger(__name__)

POSITIONS = range(1, 11)


@dataclass(frozen=True)
class GalleryParams:
    shard: ShardParams = field(default_factory=ShardParams)
    index: IndexParams = field(default_factory=IndexParams)
    partition: tuple[int, int] = (0, 1)   # (this worker's part, number of parts): subjects by CRC-32 of their id


def partition_of(subject_id: str, parts: int) -> int:
    return zlib.crc32(subject_id.encode()) % parts


class Gallery:
    """Active enrollments of this worker's partition, searchable 1:N."""

    SYNC_PAGE = 10_000   # gallery changes read from the store at a time

    def __init__(self, centre: Centre | None, params: GalleryParams = GalleryParams()):
        self.centre = centre
        self.params = params
        self.entries: dict[str, int] = {}           # enrollment id -> row
        self.enrollment_ids: list[str | None] = []  # row -> enrollment id (None: left the gallery)
        self.subject_ids: list[str | None] = []
        self.last_seq = 0
        self.shards = {p: FingerShard(params.shard) for p in POSITIONS}
        self.index = {p: FingerIndex(params.index) for p in POSITIONS}
        self._lock = threading.RLock()
        self.last_candidates: int | None = None     # rows the index passed to the matcher in the last search
        self.last_comparisons = 0                    # finger comparisons the matcher made in the last search
        self._exported = False                       # gauges set at least once

    # --- membership ---------------------------------------------------------------
    def owns(self, subject_id: str) -> bool:
        part, parts = self.params.partition
        return parts == 1 or partition_of(subject_id, parts) == part

    def add(self, enrollment_id: str, subject_id: str, fingers: dict[int, object]) -> None:
        with self._lock:
            self.remove(enrollment_id)
            row = len(self.enrollment_ids)
            self.enrollment_ids.append(enrollment_id)
            self.subject_ids.append(subject_id)
            self.entries[enrollment_id] = row
            for position, t in fingers.items():
                self.shards[position].add(row, t)
                if self.params.index.enabled:
                    self.index[position].add(row, t)

    def remove(self, enrollment_id: str) -> None:
        with self._lock:
            row = self.entries.pop(enrollment_id, None)
            if row is None:
                return
            for position in POSITIONS:
                self.shards[position].remove(row)
                self.index[position].remove(row)
            self.enrollment_ids[row] = self.subject_ids[row] = None

    def sync(self) -> None:
        """Apply every gallery change after `last_seq`, `SYNC_PAGE` changes at a time (a replica catching up on
        millions of entries never holds the whole log in memory); within a page, leaving entries first, then
        joining ones in bulk."""
        with self._lock:
            while True:
                changes = gallery_log.changes_since(self.centre.store, self.last_seq, limit=self.SYNC_PAGE)
                self._apply(changes)
                if len(changes) < self.SYNC_PAGE:
                    break
            if not self._exported:
                self._export()

    def _apply(self, changes: list[dict]) -> None:
        joining, seq = [], self.last_seq
        for change in changes:
            seq = max(seq, int(change["seq"]))
            self.remove(change["_id"])
            if change.get("active") and self.owns(change["subject_id"]):
                joining.append((change["_id"], change["subject_id"]))
        for loaded in templates.load_many(self.centre, joining):
            self.add(loaded.enrollment_id, loaded.subject_id, loaded.fingers)
        # advanced only once every joining entry of the page is loaded: a sync that fails half-way (store down)
        # is repeated from the same position, never skipping the entries it did not load
        self.last_seq = seq
        if changes:
            self._export()

    def _export(self) -> None:
        shard = str(self.params.partition[0])   # "0" for an unsharded gallery
        metrics.GALLERY_ENROLLMENTS.labels(shard=shard).set(len(self.entries))
        metrics.GALLERY_APPLIED_SEQ.labels(shard=shard).set(self.last_seq)
        metrics.GALLERY_MEMORY_BYTES.labels(shard=shard).set(self.nbytes())
        self._exported = True

    def fingers_of(self, enrollment_id: str, subject_id: str) -> dict[int, object]:
        return templates.fingers_of(self.centre, enrollment_id, subject_id)

    def nbytes(self) -> int:
        return sum(self.memory().values())

    def memory(self) -> dict[str, int]:
        """Array bytes by part, summed over the finger positions (see `FingerShard.memory`, `FingerIndex.memory`)."""
        out: dict[str, int] = {}
        for part in [*self.shards.values(), *(self.index.values() if self.params.index.enabled else ())]:
            for k, v in part.memory().items():
                out[k] = out.get(k, 0) + v
        return out

    # --- search -------------------------------------------------------------------
    def candidate_rows(self, probes: dict[int, object]) -> dict[int, np.ndarray] | None:
        """Per probe position, the index's candidate rows; None = scan everything."""
        p = self.params.index
        if not p.enabled or len(self.entries) < p.full_scan_below:
            return None
        held = {pos: self.shards[pos].count for pos in probes if pos in self.shards}
        return candidates_for_probe(self.index, probes, len(self.enrollment_ids), held, len(self.entries), p)

    def finger_scores(self, probes: dict[int, object]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per probe position: (rows, scores) from the full matcher.

        Without the index, every row. With it, first each finger's own
        candidates; then every other finger of the rows that any finger put in
        the impostor tail (the union over fingers), so each row that can reach
        a fused score is fused over all its fingers, exactly as a full scan would.
        """
        with self._lock:
            nominated = self.candidate_rows(probes)
            out = {}
            if nominated is None:
                self.last_candidates = None
                for position, probe in probes.items():
                    if self.shards.get(position) is not None and self.shards[position].count:
                        out[position] = self.shards[position].scan(probe)
                self.last_comparisons = sum(len(r) for r, _ in out.values())
                return out
            self.last_candidates = len(np.unique(np.concatenate(list(nominated.values())))) if nominated else 0
            evidence = -np.log10(engine.FUSION_TRUNCATION)
            hits = []
            for position, rows in nominated.items():
                out[position] = self.shards[position].score_rows(probes[position], rows)
                r, sc = out[position]
                hits.append(r[engine.finger_log_fmr_array(sc) >= evidence])
            union = np.unique(np.concatenate(hits)) if hits else np.zeros(0, np.int64)
            for position, (rows, scores) in list(out.items()):
                rest = np.setdiff1d(union, rows, assume_unique=True)
                if len(rest):
                    r2, s2 = self.shards[position].score_rows(probes[position], rest)
                    out[position] = (np.concatenate([rows, r2]), np.concatenate([scores, s2]))
            self.last_comparisons = sum(len(r) for r, _ in out.values())
            return out

    def search(self, probes: dict[int, object], *, threshold: float, exclude: set[str] = frozenset(),
               exclude_subject: str | None = None, limit: int = 10) -> list[dict]:
        """Entries whose fused score reaches `threshold`, best first.

        Only entries with at least one finger in the impostor tail beyond the
        fusion's truncation point can have a fused score above 0, so only those
        are fused (in Python).
        """
        scored = self.finger_scores(probes)
        with self._lock:
            return fuse_candidates(scored, self.enrollment_ids, self.subject_ids, threshold=threshold,
                                   exclude=exclude, exclude_subject=exclude_subject, limit=limit)


def fuse_candidates(scored: dict[int, tuple[np.ndarray, np.ndarray]], enrollment_ids: list, subject_ids: list, *,
                    threshold: float, exclude=frozenset(), exclude_subject: str | None = None,
                    limit: int = 10) -> list[dict]:
    evidence = -np.log10(engine.FUSION_TRUNCATION)
    hits: set[int] = set()
    for rows, scores in scored.values():
        hits.update(rows[engine.finger_log_fmr_array(scores) >= evidence].tolist())
    if not hits:
        return []
    dense = {}
    size = len(enrollment_ids)
    for position, (rows, scores) in scored.items():
        d = np.full(size, np.nan, np.float32)
        d[rows] = scores
        dense[position] = d
    candidates = []
    for row in hits:
        enrollment_id, subject_id = enrollment_ids[row], subject_ids[row]
        if enrollment_id is None or enrollment_id in exclude or subject_id == exclude_subject:
            continue
        finger_scores = {str(pos): float(d[row]) for pos, d in dense.items() if not np.isnan(d[row])}
        fused = float(engine.fuse(finger_scores))
        if fused >= threshold:
            candidates.append({"subject_ref": subject_id, "enrollment_id": enrollment_id,
                               "score": fused, "finger_scores": finger_scores})
    candidates.sort(key=lambda c: -c["score"])
    return candidates[:limit]
