"""Candidate index: locality-sensitive hashing of Minutia Cylinder-Code cylinders.

After Cappelli, Ferrara, Maltoni, "Fingerprint indexing based on Minutia
Cylinder-Code", IEEE TPAMI 33(5), 2011: each cylinder's bit vector is hashed by
L bit-sampling functions of h bits (mated cylinders agree on most bits, so they
collide often; unrelated ones rarely). Instead of the paper's hash tables, the
keys of one template are set in a fixed-size bit signature (a Bloom filter of
its keys), so the index is one row of `bits / 8` bytes per finger, updated in
place when an entry joins or leaves. A probe's candidate score is the number of
its keys found in a template's signature, normalized as a Dice coefficient
(2 x shared keys / (keys of probe + keys of template)): it ranked mates better
than the cosine, which ranked them better on FVC2002 than subtracting the chance
count (docs/matching-scale.md). The `penetration`
share of best-scoring templates of each probe finger are the candidates; the
union over the probe fingers goes to the full matcher.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

from papilla.services.match.engine import PreparedTemplate, mcc


@dataclass(frozen=True)
class IndexParams:
    enabled: bool = True
    bits: int = 2048              # signature bits per finger (memory: bits / 8 bytes per finger)
    hashes: int = 32              # L bit-sampling functions: with 2,048 bits, 32 keep ~40 % of the bits set;
                                  # 64 saturate them (ten-finger hit at 0.5 %: 97.4 % against 99.75 %, docs)
    sample_bits: int = 12         # h bits sampled per function
    min_key_bits: int = 2         # keys with fewer set bits (empty regions) carry no evidence: not hashed
    penetration: float = 0.01     # share of each finger position's gallery passed to the full matcher, for a
                                  # ten-finger probe; a probe of n fingers gets 10/n times more per finger.
                                  # 1 %: every mate of 3,204 ten-finger probe sets found among 524 real people,
                                  # bound 99.91 % (1,068 non-rotated sets: bound 99.72 %; docs/matching-scale.md)
    fused_share: float = 0.1      # of that budget, the share given to people ranked by the sum over the probe's
                                  # fingers of their standardized index scores (each such person is compared on
                                  # every probe finger); the rest to each finger's own best. 0: per finger only.
                                  # With Dice scores, 0.1 missed 0 of 3,204 sets at 1 %, 0.25 missed 2, 0.5
                                  # missed 3, 0 missed 1; at 0.5 % 4, 4, 3 and 11 (chosen on those same sets)
    fused_min_fingers: int = 4    # only probes with this many fingers use the sum: it hurt two-finger ones
                                  # (docs/matching-scale.md)
    few_fingers: int = 2          # probes of at most this many fingers (identification from one or two
    few_finger_share: float = 0.2   # fingers) get this share per finger instead of penetration x 10 / n.
                                  # 100k people, 112 two-finger probes: 0.05 (the 10 / n rule) hit 94.6 %,
                                  # 0.1 95.5 %, 0.2 97.3 %, 0.3 98.2 % (= a full scan); identify CPU 3.3x
                                  # that of 0.05 (docs/matching-scale.md, Round 5). Ten-finger dedup unchanged
    min_candidates: int = 50      # per probe finger, at least this many (small galleries)
    full_scan_below: int = 2000   # galleries with fewer entries are scanned without the index
    seed: int = 20110501

    @property
    def words(self) -> int:
        return self.bits // 64


@lru_cache(maxsize=8)
def _samplers(params: IndexParams) -> np.ndarray:
    """(L, h) positions among the ND*64 cell bits of a cylinder."""
    rng = np.random.default_rng(params.seed)
    return np.stack([rng.choice(mcc.ND * 64, params.sample_bits, replace=False) for _ in range(params.hashes)])


def signature(t: PreparedTemplate, params: IndexParams) -> np.ndarray:
    """The template's signature: uint64 (words,) with one bit per LSH key of its cylinders."""
    sig = np.zeros(params.words, np.uint64)
    if len(t):
        _sign(t.cyl, _samplers(params), params.min_key_bits, params.bits, sig)
    return sig


@njit(cache=True, inline="always")
def _mix(x):
    """splitmix64 finalizer: spreads keys over the signature bits."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(cache=True)
def _sign(cyl, samplers, min_key_bits, bits, sig):
    """Set the bit of every (function j, sampled bits) key of every cylinder with enough set bits."""
    for n in range(cyl.shape[0]):
        for j in range(samplers.shape[0]):
            value = np.uint64(0)
            ones = 0
            for b in range(samplers.shape[1]):
                pos = samplers[j, b]
                bit = (cyl[n, pos >> 6] >> np.uint64(pos & 63)) & np.uint64(1)
                value |= bit << np.uint64(b)
                ones += np.int64(bit)
            if ones < min_key_bits:
                continue
            h = _mix(value + (np.uint64(j) << np.uint64(32))) % np.uint64(bits)
            sig[h >> np.uint64(6)] |= np.uint64(1) << (h & np.uint64(63))


@njit(cache=True)
def _popcounts(sig):
    out = np.zeros(sig.shape[0], np.int32)
    for r in range(sig.shape[0]):
        c = 0
        for w in range(sig.shape[1]):
            c += mcc.popcount64(sig[r, w])
        out[r] = c
    return out


@njit(cache=True)
def _scores(sig, counts, probe, probe_count):
    """Dice coefficient of each row's keys and the probe's: 2 x keys in both / (keys of the row + keys of
    the probe). Against the cosine (over the geometric mean of the two counts) it ranks the mate higher: a
    template with many keys (large, dense) shares many with any probe, and the arithmetic mean penalizes it
    more (two-finger hit at 2.5 % per finger 84.4 % against 79.6 %, docs/matching-scale.md)."""
    n = counts.shape[0]
    out = np.full(n, -1e9, np.float32)
    for r in range(n):
        if counts[r] == 0:
            continue
        c = 0
        for w in range(sig.shape[1]):
            c += mcc.popcount64(sig[r, w] & probe[w])
        out[r] = 2.0 * c / (counts[r] + max(probe_count, 1))
    return out


class FingerIndex:
    """Signatures of one finger position, one row per gallery row (zero count: not held), in chunks of
    `CHUNK_ROWS` rows (growing never copies them, and at most one chunk is partly empty)."""

    CHUNK_ROWS = 4096

    def __init__(self, params: IndexParams):
        self.params = params
        self.chunks: list[np.ndarray] = []
        self.counts = np.zeros(1024, np.uint16)      # keys set in each signature (<= bits)

    def _ensure_row(self, row: int) -> None:
        while row >= len(self.chunks) * self.CHUNK_ROWS:
            self.chunks.append(np.zeros((self.CHUNK_ROWS, self.params.words), np.uint64))
        if row >= self.counts.shape[0]:
            size = max(row + 1, self.counts.shape[0] * 5 // 4)
            self.counts = np.concatenate([self.counts, np.zeros(size - self.counts.shape[0], np.uint16)])

    def add(self, row: int, t: PreparedTemplate) -> None:
        self._ensure_row(row)
        chunk, r = divmod(row, self.CHUNK_ROWS)
        sig = self.chunks[chunk]
        sig[r] = signature(t, self.params)
        self.counts[row] = max(1, int(_popcounts(sig[r:r + 1])[0]))

    def remove(self, row: int) -> None:
        if row < self.counts.shape[0] and row < len(self.chunks) * self.CHUNK_ROWS:
            chunk, r = divmod(row, self.CHUNK_ROWS)
            self.chunks[chunk][r] = 0
            self.counts[row] = 0

    def scores(self, probe: PreparedTemplate, rows: int) -> np.ndarray:
        """Candidate score of gallery rows 0..rows-1 (rows not held score -1e9)."""
        p = signature(probe, self.params)
        pc = int(_popcounts(p[None, :])[0])
        n = min(rows, self.counts.shape[0], len(self.chunks) * self.CHUNK_ROWS)
        out = np.empty(n, np.float32)
        for c in range(0, n, self.CHUNK_ROWS):
            e = min(n, c + self.CHUNK_ROWS)
            out[c:e] = _scores(self.chunks[c // self.CHUNK_ROWS][:e - c], self.counts[c:e], p, pc)
        return out

    def candidates(self, probe: PreparedTemplate, rows: int, held: int, scale: float = 1.0) -> np.ndarray:
        """Rows of the best `penetration x scale` share of the `held` templates of this position."""
        return best_rows(self.scores(probe, rows), min(1.0, self.params.penetration * scale), held,
                         self.params.min_candidates)

    def nbytes(self) -> int:
        return sum(self.memory().values())

    def memory(self) -> dict[str, int]:
        return {"index_signatures": sum(c.nbytes for c in self.chunks), "index_counts": self.counts.nbytes}


def best_rows(scores: np.ndarray, share: float, held: int, at_least: int) -> np.ndarray:
    """Rows of the best `share` of `held` scored rows (at least `at_least`); rows not held (-1e9) never."""
    k = min(max(int(np.ceil(share * held)), at_least), held, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[scores[top] > -1e8].astype(np.int64)


def standardized(scores: np.ndarray) -> np.ndarray:
    """Scores as z-scores over the rows held; rows not held get 0 (the mean)."""
    held = scores > -1e8
    out = np.zeros(len(scores), np.float32)
    if held.sum() > 1:
        v = scores[held]
        out[held] = (v - v.mean()) / max(float(v.std()), 1e-6)
    return out


def probe_share(params: IndexParams, fingers: int) -> float:
    """Per-finger share of the gallery passed to the matcher for a probe of `fingers` fingers."""
    if 0 < fingers <= params.few_fingers:
        return min(1.0, params.few_finger_share)
    return min(1.0, params.penetration * 10 / max(fingers, 1))


def candidates_for_probe(index: dict[int, FingerIndex], probes: dict[int, PreparedTemplate], rows: int,
                         held: dict[int, int], people: int, params: IndexParams) -> dict[int, np.ndarray]:
    """Per probe position, the rows the full matcher scores: that finger's own best share, united with the
    people best ranked by the sum of their standardized index scores over all the probe's fingers (a mate
    whose fingers each score moderately is found by the sum when no single finger ranks it high enough).
    Both halves together cost what `penetration` x 10 / fingers per finger costs alone."""
    share = probe_share(params, len(probes))
    scores = {pos: index[pos].scores(t, rows) for pos, t in probes.items() if held.get(pos)}
    fused_share = params.fused_share if len(scores) >= max(2, params.fused_min_fingers) else 0.0
    own = {pos: best_rows(s, share * (1 - fused_share), held[pos], params.min_candidates) for pos, s in scores.items()}
    if not fused_share:
        return own
    total = np.zeros(rows, np.float32)
    present = np.zeros(rows, np.bool_)
    for s in scores.values():
        n = len(s)
        total[:n] += standardized(s)
        present[:n] |= s > -1e8
    fused = best_rows(np.where(present, total, -1e9).astype(np.float32), share * fused_share, people,
                      params.min_candidates)
    return {pos: np.union1d(r, fused) for pos, r in own.items()}
