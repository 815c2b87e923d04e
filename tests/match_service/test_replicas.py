"""Blocked and destroyed subjects are never returned by any replica: one that followed the change log, one that
was down during the changes and catches up, one started afresh, with the candidate index on or off, whole or
partitioned."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from papilla.services.admission import intake
from papilla.services.lifecycle import commands, enrollments
from papilla.services.extract.engine import extract
from papilla.services.match import engine, matching
from papilla.services.match.gallery import Gallery, GalleryParams
from papilla.services.match.index import IndexParams
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.formats.images import load_image
from papilla.shared.names import TEMPLATES

from tests.helpers.centre import sealed_packet

PEOPLE = {  # person -> (fingers enrolled, second impressions used as probes)
    "a": ({1: "101_1", 2: "102_1"}, {1: "101_3", 2: "102_3"}),
    "b": ({1: "103_1", 2: "104_1"}, {1: "103_3", 2: "104_3"}),
    "c": ({1: "105_1", 2: "106_1"}, {1: "105_3", 2: "106_3"}),
}
INDEXED = GalleryParams(index=IndexParams(full_scan_below=0, penetration=0.5, min_candidates=1))


def _enroll(centre, fvc_dir):
    iins, enrolled = {}, {}
    for k, (person, (fingers, _)) in enumerate(PEOPLE.items()):
        iins[person] = make_test_iin(date(1970 + k, 1, 1), True, k + 1)
        accepted = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, f"st-unit-01-{person}",
                                                                  iins[person], fingers))
        result = enrollments.settle(centre, accepted.enrollment_id,
                                    *matching.deduplicate(centre, Gallery(centre), accepted.enrollment_id))
        assert result.status == "ACTIVE"
        enrolled[person] = accepted.enrollment_id
    return iins, enrolled


def _found(gallery, fvc_dir, person) -> set[str]:
    db = fvc_dir / "DB1_B"
    probes = {p: engine.prepare(extract(load_image(db / f"{name}.tif").pixels, dpi=500))
              for p, name in PEOPLE[person][1].items()}
    gallery.sync()
    return {c["enrollment_id"] for c in gallery.search(probes, threshold=3.0)}


def test_blocked_and_destroyed_never_returned_even_by_a_replica_down_during_the_change(centre, fvc_dir):
    iins, enrolled = _enroll(centre, fvc_dir)
    following, down = Gallery(centre), Gallery(centre, INDEXED)
    down.SYNC_PAGE = 1   # catching up a page at a time gives the same gallery as reading the log at once
    for replica in (following, down):
        assert all(_found(replica, fvc_dir, p) == {enrolled[p]} for p in PEOPLE)
    job = {"principal_id": "auth-1"}
    commands.block(centre, dict(job, _id="j1", iin_hash=centre.hasher.hash(iins["a"])), blocked=True)
    assert _found(following, fvc_dir, "a") == set()
    commands.destroy(centre, dict(job, _id="j2", iin_hash=centre.hasher.hash(iins["b"])),
                     trigger="destroyed_on_application")
    assert centre.store.count(TEMPLATES, {"subject_id": enrolled["b"]}) == 0
    fresh = Gallery(centre)
    fresh.SYNC_PAGE = 2
    halves = [Gallery(centre, replace(INDEXED, partition=(k, 2))) for k in range(2)]
    for replica in (following, down, fresh):   # `down` missed both changes until now: sync() catches up
        assert _found(replica, fvc_dir, "a") == set()
        assert _found(replica, fvc_dir, "b") == set()
        assert _found(replica, fvc_dir, "c") == {enrolled["c"]}
    assert set().union(*(_found(h, fvc_dir, "c") for h in halves)) == {enrolled["c"]}
    assert sum(len(h.entries) for h in halves) == 1
    # unblocking brings the subject back, to every replica
    commands.block(centre, dict(job, _id="j3", iin_hash=centre.hasher.hash(iins["a"])), blocked=False)
    for replica in (following, down, fresh):
        assert _found(replica, fvc_dir, "a") == {enrolled["a"]}
