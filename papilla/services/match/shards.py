"""Incremental 1:N storage of one finger position: fixed-capacity blocks, tombstones, per-block compaction.

Adding a template writes it into the open block (no copy of anything else);
removing one marks a tombstone; a block whose dead share passes
`ShardParams.compact_dead_fraction` is compacted alone. A full block is
trimmed to its used size once (sealed). The row -> (block, slot) map is kept
as numpy arrays, built as entries come and go, never per search.

Rows are the gallery's integer ids of its entries (see `gallery.py`).

Memory: a block keeps each cylinder as its 6 direction words only (48
bytes), with the minutia's geometry and a code of its cell-validity word
written into the never-used corner cells (`compact.embed_compact`; the codes index
the shard's `ValidityTable`), and 4-byte offsets and owners per template.
"""
from __future__ import annotations

from dataclasses import dataclass

import sys

import numpy as np

from papilla.services.match.engine import PreparedTemplate, compact, mcc

_COLS = mcc.ND


class GalleryCapacityError(RuntimeError):
    """More distinct cylinder-validity words than a shard's table can code (2**20)."""


class ValidityTable:
    """Distinct cell-validity words of one finger position's cylinders, coded 0.. in order of arrival
    (never removed: codes stay valid in every block)."""

    def __init__(self):
        self.codes: dict[int, int] = {}
        self.words = np.zeros(64, np.uint64)

    def encode(self, validity: np.ndarray) -> np.ndarray:
        out = np.empty(len(validity), np.uint32)
        for i, word in enumerate(validity.tolist()):
            code = self.codes.get(word)
            out[i] = self._add(word) if code is None else code
        return out

    def _add(self, word: int) -> int:
        code = len(self.codes)
        if code >= 1 << compact.CODE_BITS:
            raise GalleryCapacityError(f"more than {1 << compact.CODE_BITS} distinct cylinder-validity words in one "
                                       "finger position: split the gallery into more partitions")
        if code >= len(self.words):
            self.words = np.concatenate([self.words, np.zeros(len(self.words), np.uint64)])
        self.words[code] = word
        self.codes[word] = code
        return code

    def nbytes(self) -> int:
        return self.words.nbytes + sys.getsizeof(self.codes) + 36 * len(self.codes)   # + the int keys


@dataclass(frozen=True)
class ShardParams:
    block_templates: int = 4096          # templates per block: one numba call scans one block
    first_rows: int = 4096               # an open block starts with room for this many cylinders, doubling as it fills
    compact_dead_fraction: float = 0.5   # compact a block when this share of its templates is removed


class Block:
    """Up to `capacity` templates packed for `compact.compare_to_compact`."""

    def __init__(self, capacity: int, rows: int):
        self.cyl = np.zeros((rows, _COLS), np.uint64)    # cylinder words, geometry in the corner bits
        self.offsets = np.zeros(capacity + 1, np.int32)
        self.owner = np.full(capacity, -1, np.int32)     # gallery row of each slot
        self.alive = np.zeros(capacity, np.bool_)
        self.n = 0
        self.dead = 0

    @property
    def capacity(self) -> int:
        return int(self.owner.shape[0])

    def fits(self, t: PreparedTemplate) -> bool:
        return self.n < self.capacity

    def append(self, t: PreparedTemplate, row: int, codes: np.ndarray) -> int:
        a = int(self.offsets[self.n])
        b = a + len(t)
        if b > self.cyl.shape[0]:   # an open block grows by doubling (small galleries do not pay for a full block)
            grown = np.zeros((max(b, 2 * self.cyl.shape[0]), _COLS), np.uint64)
            grown[:a] = self.cyl[:a]
            self.cyl = grown
        compact.embed_compact(t.geo, t.cyl, codes, self.cyl[a:b])
        self.offsets[self.n + 1] = b
        self.owner[self.n] = row
        self.alive[self.n] = True
        self.n += 1
        return self.n - 1

    def seal(self) -> None:
        """Trim the reserved space of a full block (once)."""
        used = int(self.offsets[self.n])
        self.cyl = self.cyl[:used].copy()

    def nbytes(self) -> int:
        return sum(self.memory().values())

    def memory(self) -> dict[str, int]:
        return {"cylinders": self.cyl.nbytes, "block_slots": self.offsets.nbytes + self.owner.nbytes + self.alive.nbytes}

    def template(self, slot: int, table: ValidityTable) -> PreparedTemplate:
        """The prepared template in `slot`, decoded (geometry and validity out of the corner bits)."""
        a, e = int(self.offsets[slot]), int(self.offsets[slot + 1])
        geo, cyl = compact.decode_compact(self.cyl[a:e], compact.COS_LUT, compact.SIN_LUT, table.words)
        return PreparedTemplate(geo=geo, cyl=cyl)

    def live_slots(self) -> np.ndarray:
        return np.flatnonzero(self.alive[:self.n])

    def scores(self, probe: PreparedTemplate, slots: np.ndarray, table: ValidityTable) -> np.ndarray:
        if len(slots) == 0:
            return np.zeros(0, np.float32)
        if len(probe) < 2:
            return np.zeros(len(slots), np.float32)
        return compact.compare_to_compact(probe.geo, probe.cyl, self.cyl, self.offsets[slots],
                                          self.offsets[slots + 1], compact.COS_LUT, compact.SIN_LUT, table.words)


class FingerShard:
    """All templates of one finger position held by this worker."""

    def __init__(self, params: ShardParams = ShardParams()):
        self.params = params
        self.blocks: list[Block] = []
        self.where_block = np.full(1024, -1, np.int32)   # row -> block index (-1: not held)
        self.where_slot = np.zeros(1024, np.int32)
        self.count = 0
        self.validity = ValidityTable()

    def _ensure_row(self, row: int) -> None:
        if row >= self.where_block.shape[0]:
            size = max(row + 1, self.where_block.shape[0] * 5 // 4)
            self.where_block = np.concatenate([self.where_block, np.full(size - self.where_block.shape[0], -1, np.int32)])
            self.where_slot = np.concatenate([self.where_slot, np.zeros(size - self.where_slot.shape[0], np.int32)])

    def _open_block(self, t: PreparedTemplate) -> int:
        if self.blocks and self.blocks[-1].fits(t):
            return len(self.blocks) - 1
        if self.blocks:
            self.blocks[-1].seal()
        p = self.params
        self.blocks.append(Block(p.block_templates, max(p.first_rows, len(t))))
        return len(self.blocks) - 1

    def add(self, row: int, t: PreparedTemplate) -> None:
        self.remove(row)
        self._ensure_row(row)
        b = self._open_block(t)
        self.where_slot[row] = self.blocks[b].append(t, row, self.validity.encode(t.cyl[:, mcc.ND]))
        self.where_block[row] = b
        self.count += 1

    def remove(self, row: int) -> None:
        if row >= self.where_block.shape[0] or self.where_block[row] < 0:
            return
        b, s = int(self.where_block[row]), int(self.where_slot[row])
        block = self.blocks[b]
        block.alive[s] = False
        block.dead += 1
        self.where_block[row] = -1
        self.count -= 1
        if b != len(self.blocks) - 1 and block.dead >= self.params.compact_dead_fraction * block.n:
            self._compact(b)

    def _compact(self, b: int) -> None:
        """Rebuild one sealed block with its live templates only."""
        old = self.blocks[b]
        live = old.live_slots()
        sizes = old.offsets[live + 1] - old.offsets[live]
        new = Block(old.capacity, max(int(sizes.sum()), 1))
        for s in live:
            t = old.template(int(s), self.validity)
            slot = new.append(t, int(old.owner[s]), self.validity.encode(t.cyl[:, mcc.ND]))
            self.where_slot[old.owner[s]] = slot
        self.blocks[b] = new

    def holds(self, row: int) -> bool:
        return row < self.where_block.shape[0] and self.where_block[row] >= 0

    def scan(self, probe: PreparedTemplate) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of every live template."""
        rows, scores = [], []
        for block in self.blocks:
            slots = block.live_slots()
            rows.append(block.owner[slots])
            scores.append(block.scores(probe, slots, self.validity))
        return _cat(rows, np.int64), _cat(scores, np.float32)

    def score_rows(self, probe: PreparedTemplate, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the given rows that this shard holds (the full matcher on index candidates)."""
        rows = rows[rows < self.where_block.shape[0]]
        rows = rows[self.where_block[rows] >= 0]
        blocks = self.where_block[rows]
        out_rows, out_scores = [], []
        for b in np.unique(blocks):
            sel = rows[blocks == b]
            out_rows.append(sel)
            out_scores.append(self.blocks[b].scores(probe, self.where_slot[sel].astype(np.int64), self.validity))
        return _cat(out_rows, np.int64), _cat(out_scores, np.float32)

    def nbytes(self) -> int:
        return sum(self.memory().values())

    def memory(self) -> dict[str, int]:
        """Bytes by part: cylinder words, per-slot offsets/owners/alive flags, the row -> (block, slot) map, the
        validity table."""
        out = {"cylinders": 0, "block_slots": 0, "row_map": self.where_block.nbytes + self.where_slot.nbytes,
               "validity_table": self.validity.nbytes()}
        for b in self.blocks:
            for k, v in b.memory().items():
                out[k] += v
        return out


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)
