"""Extraction and matching give the same bits in separate processes (numba kernels, no fastmath where it
changes results, caches that never run a stale kernel).

Three processes each extract 64 FVC2002 B images (16 of each database) and score all 4,096 ordered pairs;
the digests of the templates and of the scores must be identical. The first process runs with an empty
numba cache directory (everything compiled fresh), the other two with the checkout's cache.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = Path(__file__).with_name("determinism_probe.py")
ROOT = Path(__file__).resolve().parents[2]


def _run(fvc_dir, env_extra: dict) -> dict:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(PROBE), str(fvc_dir), "5"], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_three_processes_extract_and_score_bit_for_bit(fvc_dir, tmp_path):
    runs = [_run(fvc_dir, {"NUMBA_CACHE_DIR": str(tmp_path / "numba")}), _run(fvc_dir, {}), _run(fvc_dir, {})]
    assert runs[0]["templates"] == 64 and runs[0]["minutiae"] > 64 * 15
    assert all(r["compare_equals_compare_many"] for r in runs)
    assert runs[1] == runs[0] and runs[2] == runs[0]
