"""Rotation of the key-encryption key by re-wrapping data keys, resumable after a crash.

A rotation is one document in ``jobs`` (``_id`` = ``kek-rotation``)::

    {"_id": "kek-rotation", "kind": "kek-rotation", "state": "running" | "done",
     "from_kek": "kek-1", "target": "kek-2", "cursor": "<last subject id swept>",
     "rewrapped": 1234, "started_at": "...", "finished_at": "..."}

`KekRotation.run`:

1. *begin* (under a store lease, so two operators cannot make two KEKs): if a
   rotation is ``running`` it is resumed with its target KEK; otherwise the
   current KEK is recorded as ``from_kek``, a new KEK is made on the provider,
   and recorded as ``target``.  A crash between the two writes is recognised
   on resume (the provider's current KEK differs from ``from_kek``).
2. *sweep* ``data_keys`` in ``_id`` order, a page at a time; every live record
   whose ``kek_id`` (recorded with each wrapped key) is not the current KEK is
   re-wrapped (`EnvelopeCipher.rewrap`: same data key, same key version, new
   nonce and KEK, one compare-and-set).  The cursor is saved after each page,
   so a resumed rotation starts where the crashed one stopped; correctness
   does not depend on the cursor, since each record says its own KEK.
3. sweep again from the start until a sweep finds nothing left under an old
   KEK (a worker that read the current KEK just before the rotation may have
   wrapped a new key under the old one behind the cursor), then mark ``done``.

The pipeline keeps answering throughout: old KEKs stay on the provider, so a
record read before its re-wrap still unwraps, and one read after unwraps under
the new KEK.  Retiring an old KEK (`retire`) is a separate, explicit step that
refuses while any data key is still wrapped under it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from papilla.shared import names

from ._store import lease
from .envelope import ACTIVE, DATA_KEYS, EnvelopeCipher
from .errors import DataKeyDestroyed, RotationError
from .keys import KeyProvider, kek_number

JOBS = names.JOBS
ROTATION_ID = "kek-rotation"
RUNNING = "running"
DONE = "done"

__all__ = ["RotationParams", "RotationReport", "KekRotation", "kek_usage", "RotationError"]


@dataclass(frozen=True)
class RotationParams:
    batch_size: int = 500        # data-key records read per page (and per checkpoint)
    max_passes: int = 5          # sweeps before giving up on keys still being made under an old KEK
    lease_wait_s: float = 60.0   # wait for another operator's begin/retire to finish

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_passes < 1:
            raise ValueError("rotation batch size and passes must be at least 1")


@dataclass
class RotationReport:
    target: str                  # the KEK every data key is now wrapped under
    resumed: bool                # continued a rotation that had stopped (crash, Ctrl-C)
    rewrapped: int = 0           # records re-wrapped by this run
    gone: int = 0                # records shredded or forgotten while the rotation ran
    passes: int = 0
    usage: dict[str, int] = field(default_factory=dict)  # live data keys per KEK at the end


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _pages(store: Any, collection: str, batch: int, after: Any = None) -> Iterator[list[dict]]:
    while True:
        page = store.find(collection, {} if after is None else {"_id": {"$gt": after}},
                          sort=[("_id", 1)], limit=batch)
        if not page:
            return
        yield page
        after = page[-1]["_id"]


def _live(record: dict) -> bool:
    return record.get("state") == ACTIVE and record.get("wrapped") is not None


def kek_usage(store: Any, *, collection: str = DATA_KEYS, batch: int = 1000) -> dict[str, int]:
    """Live data keys per KEK id (tombstones are not counted)."""
    usage: dict[str, int] = {}
    for page in _pages(store, collection, batch):
        for record in page:
            if _live(record):
                usage[record.get("kek_id")] = usage.get(record.get("kek_id"), 0) + 1
    return usage


class KekRotation:
    """Rotate the KEK of ``provider`` over the data keys in ``store``."""

    def __init__(self, store: Any, provider: KeyProvider, *, params: RotationParams = RotationParams(),
                 collection: str = DATA_KEYS) -> None:
        self._store = store
        self._keys = provider
        self._params = params
        self._collection = collection
        self._cipher = EnvelopeCipher(store, provider, collection=collection)

    @property
    def provider(self) -> KeyProvider:
        return self._keys

    def state(self) -> dict | None:
        """The rotation document (see module doc), or None if there never was a rotation."""
        return self._store.get(JOBS, ROTATION_ID)

    def total(self) -> int:
        """Data-key records (live or tombstones) one sweep reads: the progress bar's length."""
        return self._store.count(self._collection, {})

    # -- begin / resume -------------------------------------------------------------
    def begin(self) -> tuple[dict, bool]:
        """Start a rotation (new KEK) or pick up the running one; returns (document, resumed)."""
        with lease(self._store, ROTATION_ID, ttl_s=120, wait_s=self._params.lease_wait_s):
            doc = self.state()
            if doc is not None and doc.get("state") == RUNNING:
                if not doc.get("target"):
                    current = self._keys.current_kek_id()
                    target = current if current != doc["from_kek"] else self._keys.rotate_kek()
                    self._set(target=target)
                return self.state(), True
            start = {"kind": ROTATION_ID, "state": RUNNING, "from_kek": self._keys.current_kek_id(),
                     "target": None, "cursor": None, "rewrapped": 0, "started_at": _now(), "finished_at": None}
            if doc is None:
                self._store.insert(JOBS, {"_id": ROTATION_ID, **start})
            else:
                self._set(**start)
            self._set(target=self._keys.rotate_kek())
            return self.state(), False

    def _set(self, **changes: Any) -> None:
        self._store.update(JOBS, {"_id": ROTATION_ID}, set=changes)

    # -- sweep ------------------------------------------------------------------------
    def _sweep(self, after: Any, on_record: Callable[[], None] | None) -> tuple[int, int]:
        """One pass from ``after``; returns (re-wrapped, gone).  Checkpoints every page."""
        rewrapped = gone = 0
        for page in _pages(self._store, self._collection, self._params.batch_size, after):
            current = self._keys.current_kek_id()
            in_page = 0
            for record in page:
                if _live(record) and record.get("kek_id") != current:
                    try:
                        in_page += self._cipher.rewrap(record["_id"])
                    except DataKeyDestroyed:
                        gone += 1  # shredded or forgotten meanwhile: nothing left to protect
                if on_record is not None:
                    on_record()
            self._store.update(JOBS, {"_id": ROTATION_ID}, set={"cursor": page[-1]["_id"]},
                               inc={"rewrapped": in_page})
            rewrapped += in_page
        return rewrapped, gone

    def run(self, *, on_pass: Callable[[int, int], None] | None = None,
            on_record: Callable[[], None] | None = None) -> RotationReport:
        """Begin or resume, sweep until no live data key is under an old KEK, mark done.

        ``on_pass(pass_number, records_to_read)`` is called before each sweep and
        ``on_record()`` after each record read (progress bars).
        """
        doc, resumed = self.begin()
        report = RotationReport(target=doc["target"], resumed=resumed)
        after = doc.get("cursor") if resumed else None
        for number in range(1, self._params.max_passes + 1):
            if on_pass is not None:
                on_pass(number, self.total())
            rewrapped, gone = self._sweep(after, on_record)
            report.rewrapped += rewrapped
            report.gone += gone
            report.passes = number
            if after is None and rewrapped == 0:
                break  # a whole sweep found nothing under an old KEK
            after = None
        report.usage = kek_usage(self._store, collection=self._collection)
        current = self._keys.current_kek_id()
        if any(kek != current for kek in report.usage):
            raise RotationError(f"data keys are still being wrapped under an old KEK after "
                                f"{report.passes} sweeps; run the rotation again")
        self._set(state=DONE, finished_at=_now(), target=current)
        return report

    # -- retire -------------------------------------------------------------------------
    def retire(self, kek_id: str) -> None:
        """Destroy old KEK ``kek_id`` on the provider once no live data key is wrapped under it."""
        kek_number(kek_id)
        with lease(self._store, ROTATION_ID, ttl_s=120, wait_s=self._params.lease_wait_s):
            doc = self.state()
            if doc is not None and doc.get("state") == RUNNING:
                raise RotationError("a KEK rotation is still running; finish it (`rotate-kek`) before retiring")
            if kek_id == self._keys.current_kek_id():
                raise RotationError(f"{kek_id} is the current KEK; rotate before retiring it")
            still = kek_usage(self._store, collection=self._collection).get(kek_id, 0)
            if still:
                raise RotationError(f"{still} data keys are still wrapped under {kek_id}; run `rotate-kek` first")
            self._keys.retire_kek(kek_id)
