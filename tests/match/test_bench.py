"""Bench metrics and a smoke run on a subset of one FVC database."""
from __future__ import annotations

import json

import numpy as np
import pytest

from papilla.bench import metrics, protocols
from papilla.bench.data import discover


def test_eer_on_hand_made_scores():
    # perfectly separated: EER 0
    assert metrics.eer([5, 6, 7], [1, 2, 3]) == 0.0
    # genuine 1..10, impostor 0.5..9.5 step 1: at t = 5.x FMR = FNMR = 0.4...0.5
    g = np.arange(1, 11, dtype=float)
    i = np.arange(0.5, 10, 1.0)
    e = metrics.eer(g, i)
    assert 0.4 <= e <= 0.5
    # one impostor above all genuines, 10 genuines, 10 impostors: EER 0.1 exactly at the crossing
    g = np.arange(10, 20, dtype=float)   # 10 .. 19
    i = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 15], float)
    # t in (8, 10]: FMR 0.1, FNMR 0; each threshold step above 10 rejects one more genuine while the impostor
    # at 15 is still accepted: at t = 11 FMR = FNMR = 0.1, which is the EER
    assert metrics.eer(g, i) == pytest.approx(0.1, abs=1e-12)
    r = metrics.rates(g, i)
    assert r.fmr100 == pytest.approx(0.6)      # FMR <= 1% needs t > 15: genuines 10..15 rejected
    assert r.zero_fmr == pytest.approx(0.6)
    # symmetric overlap: each side has 1 of 4 errors at the best threshold
    assert metrics.eer([2, 3, 4, 0.5], [0, 1, 1.5, 3.5]) == pytest.approx(0.25)


def test_det_points_monotone():
    rng = np.random.default_rng(0)
    t, fmr, fnmr = metrics.det_points(rng.normal(2, 1, 200), rng.normal(0, 1, 500))
    assert np.all(np.diff(fmr) <= 0) and np.all(np.diff(fnmr) >= 0)
    assert fmr[0] == 1.0 and fnmr[-1] == 1.0


def test_protocol_pair_counts(fvc_dir):
    db = discover(fvc_dir / "DB1_B")[0]
    g, i = protocols.pairs(db.impressions, "fvc")
    assert len(g) == 10 * 28 and len(i) == 45
    g, i = protocols.pairs(db.impressions, "all")
    assert len(g) == 280 and len(i) == 80 * 79 // 2 - 280


def test_accuracy_bench_smoke(fvc_dir, tmp_path, monkeypatch, capsys):
    if not (fvc_dir / "DB1_B").is_dir():
        pytest.fail(f"FVC2002 DB1_B missing under {fvc_dir}")
    monkeypatch.setenv("PAPILLA_BENCH_CACHE", str(tmp_path / "cache"))
    from papilla.cli import main
    det = tmp_path / "det.png"
    rc = main(["bench", "accuracy", "--data", str(fvc_dir / "DB1_B"), "--json", "--no-progress",
               "--extractor", "nbis", "--limit-fingers", "4", "--det", str(det)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for p in ("all", "fvc"):
        block = out["protocols"][p]
        r = block["databases"]["DB1_B"]
        assert set(r) == {"eer", "fmr100", "fmr1000", "zero_fmr"}
        assert all(0.0 <= v <= 1.0 for v in r.values())
        assert set(block["mean"]) == set(r)
    assert out["protocols"]["all"]["databases"]["DB1_B"]["eer"] < 0.2
    assert det.stat().st_size > 1000


def test_accuracy_bench_prints_synthetic_profiles_beside_fvc(fvc_dir, tmp_path, monkeypatch, capsys):
    """`bench accuracy --synthetic P,Q`: each profile's set generated into the bench cache, scored with the same
    protocol, one table row each beside the FVC figures, and in --json."""
    monkeypatch.setenv("PAPILLA_BENCH_CACHE", str(tmp_path / "cache"))
    from papilla.cli import main
    args = ["bench", "accuracy", "--data", str(fvc_dir / "DB1_B"), "--no-progress", "--extractor", "nbis",
            "--limit-fingers", "2", "--synthetic", "nominal,small_contact", "--people", "1", "--impressions", "3"]
    assert main(args) == 0
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines()]
    assert any(r[:1] == ["nominal"] and len(r) == 5 for r in rows)
    assert any(r[:1] == ["small_contact"] and len(r) == 5 for r in rows)
    assert "FVC (--data) mean" in text and "3 genuine" not in text and "6 genuine" in text   # 2 fingers x C(3, 2)
    sets = tmp_path / "cache" / "synthetic"
    assert sorted(p.name for p in (sets / "small_contact-seed1").glob("*.png")) == \
        sorted(f"{f}_{k}.png" for f in (1, 2) for k in (1, 2, 3))
    assert main([*args, "--json"]) == 0          # the second run reads the generated sets
    out = json.loads(capsys.readouterr().out)
    assert set(out["synthetic"]["profiles"]) == {"nominal", "small_contact"}
    assert out["synthetic"]["genuine_pairs"] == 6
    assert set(out["synthetic"]["profiles"]["nominal"]["protocols"]["all"]["mean"]) == \
        {"eer", "fmr100", "fmr1000", "zero_fmr"}
    assert main([*args[:-6], "--synthetic", "soggy"]) == 2
    assert "soggy" in capsys.readouterr().err


def test_distinctness_bench_counts_every_distinct_finger_pair(fvc_dir):
    from papilla.bench import distinctness

    res = distinctness.run(fvc_dir / "DB1_B", progress=False)
    assert res["fingers"] == 10 and res["impostor_pairs"] == 45
    row = res["at_thresholds"]["1e-04"]
    assert row["observed_fmr"] == row["impostors_above"] / 45 and row["observed_fmr"] <= row["upper_95"] <= 1
    top = res["top"]   # the highest pairs, named, with their minutiae counts
    assert top[0]["score"] == res["max"] and [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
    assert all(a != b and a.startswith("DB1_B/") for a, b in (t["pair"] for t in top))


def test_identify_bench_smoke(fvc_dir, tmp_path, monkeypatch, capsys):
    """`papilla bench identify --json` on one FVC database and two synthetic people: every field the operators'
    figures rely on, planted mates found through the index."""
    from papilla.cli import main
    monkeypatch.setenv("PAPILLA_BENCH_CACHE", str(tmp_path / "cache"))
    synth = tmp_path / "synth"
    assert main(["synth", "--people", "4", "--impressions", "2", "--out", str(synth), "--jobs", "1"]) == 0
    capsys.readouterr()
    rc = main(["bench", "identify", "--data", str(fvc_dir / "DB1_B"), "--synthetic", str(synth), "--people", "100",
               "--probes", "3", "--store-people", "10", "--full-scan-below", "0", "--penetration", "0.1,1",
               "--identify-share", "0.05,1", "--json", "--no-progress"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for field in ("people", "fingers", "bytes_per_finger", "load_s", "penetration", "hit_rate", "dedup_p50_s",
                  "dedup_p95_s", "identify_p95_s", "shards", "store_load_s"):
        assert field in out, field
    assert out["people"] == 100 and out["fingers"] == 1000 and out["shards"] == 1 and out["index"] is True
    assert out["planted_mates"] == 3 and out["hit_rate"] == 1.0
    assert 0 < out["penetration"] < 1 and out["dedup_p50_s"] <= out["dedup_p95_s"]
    assert "perturbing" in out["background"]
    # where mates are lost, over every planted two-finger probe (7 FVC impressions + 2 synthetic mates' one)
    misses = out["identify_misses"]
    assert misses["probes"] == out["identify_searches"] == 9 and sum(misses["counts"].values()) == 9
    assert misses["hit_rate"] == out["identify_hit_rate"] and 0 <= misses["hit_lower95"] <= misses["hit_rate"]
    assert misses["full_scan_hit_rate"] >= misses["hit_rate"]
    assert misses["threshold_one_to_one"] <= misses["threshold_one_to_many"]
    assert out["dedup_misses"]["counts"]["hit"] == 3 and out["dedup_misses"]["probes"] == 3
    # the same searches on the same gallery at a second penetration: a larger one hands the matcher more
    low, high = out["by_penetration"]
    assert low["penetration_per_finger"] == 0.1 and low["matcher_share"] == out["matcher_share"]
    assert high["penetration_per_finger"] == 1.0 and high["matcher_share"] > low["matcher_share"]
    assert high["hit_rate"] == 1.0 and high["searches"] == low["searches"] == 3
    # the two-finger searches again with every row a candidate: the index loses no mate there
    (whole,) = out["by_identify_share"]
    assert whole["identify_share_per_finger"] == 1.0 and whole["identify_misses"]["counts"]["index"] == 0
    assert whole["identify_matcher_share"] > out["identify_matcher_share"]

    # the index curve with impressions 1 and 2 enrolled in turn: every other impression of each person a probe
    rc = main(["bench", "identify", "--data", str(fvc_dir / "DB1_B"), "--synthetic", str(synth), "--curve",
               "--rotate", "2", "--json", "--no-progress"])
    assert rc == 0
    curve = json.loads(capsys.readouterr().out)
    assert curve["people"] == 5 and curve["rotate"] == 2
    assert curve["synthetic"]["probes"] == 4 * 2 * 1 and curve["fvc"]["probes"] == 1 * 2 * 7
    tenprint = curve["all"]["tenprint"]
    assert [c["penetration"] for c in tenprint] == sorted(c["penetration"] for c in tenprint)
    assert all(0 <= c["finger_hit_lower95"] <= c["finger_hit_rate"] <= 1 for c in tenprint)


def test_bench_extraction_in_parallel_gives_the_same_templates(fvc_dir, tmp_path, monkeypatch):
    """PAPILLA_BENCH_JOBS=2 extracts with two processes: the same templates, in the same order, as one."""
    from papilla.bench import data
    db = discover(fvc_dir / "DB1_B")[0]
    db = type(db)(db.name, db.path, db.dpi, db.impressions[:12])
    monkeypatch.setenv("PAPILLA_BENCH_JOBS", "2")
    two = data.templates_for(db, progress=False, use_cache=False)
    monkeypatch.setenv("PAPILLA_BENCH_JOBS", "1")
    one = data.templates_for(db, progress=False, use_cache=False)
    assert len(one) == len(two) == 12
    assert all(np.array_equal(a.minutiae, b.minutiae) for a, b in zip(one, two))


def test_bench_jobs_mistake_is_one_sentence(fvc_dir, tmp_path, monkeypatch, capsys):
    from papilla.cli import main
    monkeypatch.setenv("PAPILLA_BENCH_JOBS", "two")
    monkeypatch.setenv("PAPILLA_BENCH_CACHE", str(tmp_path / "cache"))
    assert main(["bench", "accuracy", "--data", str(fvc_dir / "DB1_B"), "--no-progress", "--limit-fingers", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("papilla: PAPILLA_BENCH_JOBS must be") and "\n" not in err
