"""The gallery's 1:N search finds what a brute-force fuse over every entry finds."""
from __future__ import annotations

from papilla.services.extract.engine import extract
from papilla.services.match import engine
from papilla.services.match.gallery import Gallery
from papilla.shared.formats.images import load_image


def _prepared(db, name):
    return engine.prepare(extract(load_image(db / f"{name}.tif").pixels, dpi=500))


def test_search_equals_brute_force_and_ranks_the_mate_first(fvc_dir):
    db = fvc_dir / "DB1_B"
    gallery = Gallery(centre=None)
    fingers = {}
    for person, (f1, f2) in enumerate([(101, 102), (103, 104), (105, 106), (107, 108), (109, 110)]):
        fingers[f"enr-{person}"] = {2: _prepared(db, f"{f1}_1"), 7: _prepared(db, f"{f2}_1")}
        gallery.add(f"enr-{person}", f"sub-{person}", fingers[f"enr-{person}"])
    probes = {2: _prepared(db, "103_3"), 7: _prepared(db, "104_3")}
    threshold = engine.thresholds().fused(1e-3)
    found = gallery.search(probes, threshold=threshold, limit=10)
    brute = sorted(((engine.fuse({str(p): engine.compare(probes[p], f[p]) for p in probes}), eid)
                    for eid, f in fingers.items()), reverse=True)
    assert [c["enrollment_id"] for c in found] == [eid for score, eid in brute if score >= threshold]
    assert found[0]["enrollment_id"] == "enr-1"
    assert abs(found[0]["score"] - brute[0][0]) < 1e-6 * brute[0][0]   # float32 scan vs single compare
    # the same person's own record is left out when asked (re-enrollment is decided elsewhere)
    assert all(c["subject_ref"] != "sub-1" for c in gallery.search(probes, threshold=threshold, exclude_subject="sub-1"))
