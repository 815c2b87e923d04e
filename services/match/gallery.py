"""The in-memory gallery of a match worker, kept in step with the store's gallery log."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from papilla.shared import gallery_log, metrics
from papilla.shared.centre import Centre
from papilla.shared.crypto.errors import CryptoError

log = logging.getLogger(__name__)


@dataclass
class GalleryEntry:
    enrollment_id: str
    subject_id: str
    fingers: dict[int, object] = field(default_factory=dict)   # position → PreparedTemplate


def load_fingers(centre: Centre, enrollment_id: str, subject_id: str) -> dict[int, object]:
    """Decrypt an enrollment's prepared templates; templates of an older engine are re-prepared and saved."""
    from papilla.services.match.engine import PreparedTemplate, TemplateVersionError

    fingers = {}
    for doc in centre.store.find("biometrics", {"enrollment_id": enrollment_id}):
        blob = centre.cipher.decrypt(subject_id, "biometrics", doc["_id"], "prepared", doc["prepared"])
        try:
            fingers[int(doc["position"])] = PreparedTemplate.from_bytes(blob)
        except TemplateVersionError:
            fingers[int(doc["position"])] = reprepare(centre, subject_id, doc)
    return fingers


def reprepare(centre: Centre, subject_id: str, doc: dict):
    """Rebuild the matcher's form from the stored minutiae after an engine upgrade (and keep it)."""
    from papilla.services.match import engine
    from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate

    raw = centre.cipher.decrypt(subject_id, "biometrics", doc["_id"], "minutiae", doc["minutiae"])
    template = FingerTemplate(width=int(doc.get("width", 0)), height=int(doc.get("height", 0)),
                              minutiae=np.frombuffer(raw, dtype=MINUTIA_DTYPE).copy(), quality=int(doc["quality"]))
    prepared = engine.prepare(template)
    sealed = centre.cipher.encrypt(subject_id, "biometrics", doc["_id"], "prepared", prepared.to_bytes())
    centre.store.update("biometrics", {"_id": doc["_id"]}, set={"prepared": sealed, "engine": engine.ENGINE_VERSION})
    log.info("re-prepared a template from engine %s for %s", doc.get("engine"), engine.ENGINE_VERSION)
    return prepared


class Gallery:
    """Active enrollments of this worker, with a packed 1:N shard per finger position."""

    def __init__(self, centre: Centre):
        self.centre = centre
        self.entries: dict[str, GalleryEntry] = {}
        self.last_seq = 0
        self._lock = threading.Lock()
        self._shards: dict[int, tuple[list[str], object]] | None = None

    def sync(self) -> None:
        with self._lock:
            for change in gallery_log.changes_since(self.centre.store, self.last_seq):
                self.last_seq = max(self.last_seq, int(change["seq"]))
                self._shards = None
                self.entries.pop(change["_id"], None)
                if change.get("active"):
                    try:
                        fingers = load_fingers(self.centre, change["_id"], change["subject_id"])
                    except CryptoError:
                        log.warning("gallery entry unreadable (data key destroyed?); left out")
                        continue
                    self.entries[change["_id"]] = GalleryEntry(change["_id"], change["subject_id"], fingers)
            metrics.GALLERY_SIZE.set(len(self.entries))

    def fingers_of(self, enrollment_id: str, subject_id: str) -> dict[int, object]:
        entry = self.entries.get(enrollment_id)
        return entry.fingers if entry else load_fingers(self.centre, enrollment_id, subject_id)

    def shards(self) -> dict[int, tuple[list[str], object]]:
        """Per finger position: the enrollment ids holding it and their templates packed for `compare_many`."""
        from papilla.services.match import engine

        with self._lock:
            if self._shards is None:
                shards = {}
                for position in range(1, 11):
                    holders = [e for e in self.entries.values() if position in e.fingers]
                    if holders:
                        shards[position] = ([e.enrollment_id for e in holders],
                                            engine.pack([e.fingers[position] for e in holders]))
                self._shards = shards
            return self._shards

    def search(self, probes: dict[int, object], *, threshold: float, exclude: set[str] = frozenset(),
               exclude_subject: str | None = None, limit: int = 10) -> list[dict]:
        """Entries whose fused score reaches `threshold`, best first.

        A vectorized 1:N scan per finger position; only entries with at least one
        finger in the impostor tail beyond the fusion's truncation point can have a
        fused score above 0, so only those are fused (in Python).
        """
        from papilla.services.match import engine

        evidence = -np.log10(engine.FUSION_TRUNCATION)
        scanned: dict[int, tuple[dict[str, int], np.ndarray]] = {}
        hits: set[str] = set()
        shards = self.shards()
        for position, probe in probes.items():
            if position not in shards:
                continue
            ids, packed = shards[position]
            scores = np.asarray(engine.compare_many(probe, packed), dtype=float)
            scanned[position] = ({eid: i for i, eid in enumerate(ids)}, scores)
            hits.update(ids[i] for i in np.flatnonzero(engine.finger_log_fmr_array(scores) >= evidence))
        candidates = []
        for enrollment_id in hits - set(exclude):
            entry = self.entries.get(enrollment_id)
            if entry is None or entry.subject_id == exclude_subject:
                continue
            finger_scores = {str(pos): float(scores[index[enrollment_id]])
                             for pos, (index, scores) in scanned.items() if enrollment_id in index}
            fused = float(engine.fuse(finger_scores))
            if fused >= threshold:
                candidates.append({"subject_ref": entry.subject_id, "enrollment_id": enrollment_id,
                                   "score": fused, "finger_scores": finger_scores})
        candidates.sort(key=lambda c: -c["score"])
        return candidates[:limit]
