"""`papilla demo` speaks the operator's language: who was caught as whose duplicate by the demo's person names
(never enrollment-id tuples), and each score beside the threshold it was held against."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from papilla.commands.demo import duplicate_lines, verify_line
from papilla.services.match.matching import Cut
from papilla.shared.messages import Candidate, Result

from tests.helpers.harness import clean_env

ROOT = Path(__file__).resolve().parents[2]
SCORE = r"[\d.]+ (>=|<) {purpose} threshold [\d.]+"


def test_a_single_process_demo_names_the_duplicate_and_holds_each_score_against_its_threshold(fvc_dir, tmp_path):
    done = subprocess.run([sys.executable, "-m", "papilla.cli", "demo", "--data", str(fvc_dir / "DB1_B"),
                           "--people", "3", "--home", str(tmp_path)], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Demo Duplicate (Demo Person 0's fingers, new impressions, under another IIN): PENDING_REVIEW" in out
    assert re.search(r"caught as a duplicate of Demo Person 0: fused score " + SCORE.format(purpose="duplicate")
                     + r" \(per-comparison FMR [\d.e-]+ for the gallery searched\)", out), out
    assert re.search(r"verify Demo Person 1 with new impressions of their fingers: MATCH, fused score [\d.]+ >= "
                     r"verify threshold [\d.]+", out), out
    assert re.search(r"verify Demo Person 1 with Demo Person 2's fingers: NO_MATCH, fused score [\d.]+ < "
                     r"verify threshold [\d.]+", out), out
    assert "st-demo-01-" not in out and "[(" not in out          # no enrollment ids, no tuples


def test_each_candidate_is_named_and_an_empty_list_says_what_was_not_reached():
    cut = Cut(threshold=3.0, fmr=0.0025, purpose="duplicate")
    result = Result(request_id="p-9", kind="enrollment", status="PENDING_REVIEW",
                    candidates=(Candidate(subject_ref="s1", enrollment_id="p-1", score=72.59),
                                Candidate(subject_ref="s2", enrollment_id="p-elsewhere", score=3.2)))
    lines = duplicate_lines(result, {"p-1": "Demo Person 0"}, cut)
    assert lines == ["caught as a duplicate of Demo Person 0: fused score 72.59 >= duplicate threshold 3.00 "
                     "(per-comparison FMR 0.0025 for the gallery searched)",
                     "caught as a duplicate of an enrollment outside this demo: fused score 3.20 >= duplicate "
                     "threshold 3.00 (per-comparison FMR 0.0025 for the gallery searched)"]
    nobody = duplicate_lines(Result(request_id="p-9", kind="enrollment", status="ACTIVE"), {}, cut)
    assert nobody == ["not caught: no enrolled person reached the duplicate threshold 3.00 "
                      "(per-comparison FMR 0.0025 for the gallery searched)"]
    verify = Cut(threshold=4.13, fmr=1e-4, purpose="verify")
    assert verify_line(Result(request_id="v", kind="verify", status="NO_MATCH", score=1.5), verify) == \
        "NO_MATCH, fused score 1.50 < verify threshold 4.13 (FMR 0.0001)"
    assert verify_line(Result(request_id="v", kind="verify", status="NOT_ENROLLED"), verify) == "NOT_ENROLLED"
