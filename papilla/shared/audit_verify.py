"""Checking the audit trail: the first altered, deleted, inserted or reordered entry, and a truncated tail.

The walk reads the entries in store order and expects ``seq`` 1, 2, 3… each
with a MAC that verifies under the audit key and a ``prev`` equal to the MAC
of the entry before. At the first entry that breaks this it names what
happened, one sentence:

* **altered**   the entry's MAC fails, and the next entry still links to it;
* **inserted**  the entry's MAC fails (or it is a copy of an earlier entry)
  and the next entry links past it to the one before;
* **deleted**   a genuine entry follows with a higher ``seq`` and the missing
  one is nowhere later in the trail;
* **reordered** the missing one is found later in the trail.

The tail is checked apart from the walk: the head (keyed, in the store) and
every checkpoint signed by the centre (store, checkpoint file, files the
auditor brings) must not record an entry beyond the last one present.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from . import audit_checkpoints
from .audit_chain import (GENESIS, AuditTrail, entries, entry_is_authentic, head_is_authentic,
                          read_head)

ALTERED, DELETED, INSERTED, REORDERED = "altered", "deleted", "inserted", "reordered"
TRUNCATED, HEAD, CHECKPOINT = "truncated", "head", "checkpoint"


@dataclass(frozen=True)
class Problem:
    kind: str            # one of the kinds above
    seq: int | None      # the entry it concerns (None: the trail as a whole)
    sentence: str        # what happened, for the auditor: one sentence


@dataclass
class Report:
    entries: int = 0                  # documents read
    last_seq: int = 0                 # the highest sequence number among genuine entries
    head_seq: int | None = None       # what the head records (None: no head)
    checkpoint: audit_checkpoints.Checkpoint | None = None   # the latest genuine checkpoint read
    checkpoints_outside: int = 0      # genuine checkpoints read from files (outside the store)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Peek:
    """An iterator with one document of look-ahead."""

    def __init__(self, items: Iterable[dict]) -> None:
        self._items: Iterator[dict] = iter(items)
        self._next = next(self._items, None)

    def pop(self) -> dict | None:
        current, self._next = self._next, next(self._items, None)
        return current

    def peek(self) -> dict | None:
        return self._next


def _found_later(trail: AuditTrail, seq: int, after_id) -> bool:
    return any(d.get("seq") == seq and entry_is_authentic(trail, d) for d in entries(trail.store, after=after_id))


def _forged(trail: AuditTrail, doc: dict, expected: int, prev: str, nxt: dict | None) -> Problem:
    """A document whose MAC fails at the position of entry `expected`: was it altered or inserted?"""
    before = f"after entry {expected - 1}" if expected > 1 else "at the start"
    if nxt is not None and entry_is_authentic(trail, nxt):
        if nxt.get("seq") == expected and nxt.get("prev") == prev:
            return Problem(INSERTED, expected, f"An entry the centre did not write was inserted {before} "
                                               f"(stored as {doc['_id']!r}).")
    elif nxt is None:
        head = read_head(trail.store)
        if head is not None and head_is_authentic(trail, head) and head["seq"] == expected - 1:
            return Problem(INSERTED, expected, f"An entry the centre did not write was added {before}, "
                                               "the last one the head records.")
    return Problem(ALTERED, expected, f"Entry {expected} was altered after it was written (its MAC does not "
                                      "verify under the audit key).")


def _misplaced(trail: AuditTrail, doc: dict, expected: int) -> Problem:
    """A genuine entry at the position of entry `expected` but with another sequence number."""
    seq = doc["seq"]
    if seq < expected:
        return Problem(INSERTED, seq, f"A copy of entry {seq} was inserted after entry {expected - 1}.")
    if _found_later(trail, expected, doc["_id"]):
        return Problem(REORDERED, expected, f"Entry {expected} is out of order: it is stored after entry {seq}.")
    if seq == expected + 1:
        return Problem(DELETED, expected, f"Entry {expected} was deleted (entry {seq} follows entry {expected - 1}).")
    return Problem(DELETED, expected, f"Entries {expected} to {seq - 1} were deleted "
                                      f"(entry {seq} follows entry {expected - 1}).")


def _walk(trail: AuditTrail, report: Report, wanted: set[int], macs: dict[int, str], progress=None) -> None:
    """Walk the chain; record its first break, the highest genuine sequence number and the MACs of `wanted`."""
    docs, expected, prev = _Peek(entries(trail.store)), 1, GENESIS
    while (doc := docs.pop()) is not None:
        report.entries += 1
        if progress is not None:
            progress.update(1)
        genuine = entry_is_authentic(trail, doc)
        if genuine and isinstance(doc.get("seq"), int):
            report.last_seq = max(report.last_seq, doc["seq"])
            if doc["seq"] in wanted:
                macs.setdefault(doc["seq"], doc["mac"])
        if report.problems:
            continue                      # only the first break is named; keep counting for the tail check
        if not genuine:
            report.problems.append(_forged(trail, doc, expected, prev, docs.peek()))
        elif doc["seq"] != expected:
            report.problems.append(_misplaced(trail, doc, expected))
        elif doc["prev"] != prev:
            report.problems.append(Problem(ALTERED, expected, f"Entry {expected} does not link to entry "
                                                              f"{expected - 1}: the entry before it was replaced."))
        expected, prev = expected + 1, doc.get("mac")


def _truncated(last: int, seq: int, by: str) -> Problem:
    gone = f"entry {seq} was" if seq == last + 1 else f"entries {last + 1} to {seq} were"
    return Problem(TRUNCATED, last + 1, f"The trail ends at entry {last} but {by} records entry {seq}: "
                                        f"{gone} removed from the end.")


def _check_head(trail: AuditTrail, report: Report, head: dict | None, macs: dict[int, str]) -> Problem | None:
    if head is None:
        return Problem(HEAD, None, "The head record is missing, so only the checkpoints vouch for the tail.") \
            if report.entries else None
    if not head_is_authentic(trail, head):
        return Problem(HEAD, None, "The head record was altered (its MAC does not verify under the audit key).")
    report.head_seq = head["seq"]
    if head["seq"] in macs and macs[head["seq"]] != head["mac"]:
        return Problem(HEAD, head["seq"], f"Entry {head['seq']} is not the entry the head records.")
    return None


def _load_checkpoints(trail: AuditTrail, report: Report, files: Iterable[Path]) -> list[audit_checkpoints.Checkpoint]:
    found = audit_checkpoints.from_store(trail)
    for path in files:
        if path.is_file():
            outside = audit_checkpoints.from_file(trail, path)
            report.checkpoints_outside += sum(c.valid for c in outside)
            found += outside
    genuine = [c for c in found if c.valid]
    if genuine:
        report.checkpoint = max(genuine, key=lambda c: c.seq)
    return found


def _check_checkpoints(trail: AuditTrail, report: Report, found: list, macs: dict[int, str]) -> list[Problem]:
    problems = [Problem(CHECKPOINT, c.seq if c.seq >= 0 else None,
                        f"A checkpoint in {c.source} was not signed by the centre.") for c in found if not c.valid]
    for seq, mac, at in sorted({(c.seq, c.mac, c.at) for c in found if c.valid}):
        if seq in macs and macs[seq] != mac:
            problems.append(Problem(CHECKPOINT, seq, f"Entry {seq} differs from the entry the checkpoint "
                                                     f"signed at {at} vouches for: the trail was rewritten."))
            break
    if report.checkpoint is None and report.last_seq >= trail.policy.checkpoint_every:
        problems.append(Problem(CHECKPOINT, None, f"No signed checkpoint was found although the trail has "
                                                  f"{report.last_seq} entries: they were removed."))
    return problems


def verify(trail: AuditTrail, *, checkpoint_files: Iterable[Path] = (), progress=None) -> Report:
    """Check the whole trail. `checkpoint_files`: checkpoint files or exports to check it against, besides the
    configured checkpoint file and the store's own checkpoints; `progress`: anything with `update(n)`."""
    report, macs = Report(), {}
    files = [p for p in [trail.policy.checkpoint_file, *checkpoint_files] if p is not None]
    found, head = _load_checkpoints(trail, report, files), read_head(trail.store)
    wanted = {c.seq for c in found if c.valid} | ({head.get("seq")} if head else set())
    _walk(trail, report, wanted, macs, progress)
    tail = [p for p in [_check_head(trail, report, head, macs)] if p is not None]
    tail += _check_checkpoints(trail, report, found, macs)
    claims = [(report.head_seq, "its head")] if (report.head_seq or 0) > report.last_seq else []
    cp = report.checkpoint
    if cp is not None and cp.seq > report.last_seq:
        claims.append((cp.seq, f"the checkpoint signed at {cp.at}"))
    if claims:                    # head and checkpoint may both see it: name the longer loss, once
        seq, by = max(claims)
        tail.insert(0, _truncated(report.last_seq, seq, by))
    report.problems += tail
    return report
