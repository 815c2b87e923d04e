"""Shard processes and enrollments for the scatter-gather tests (tests/match_service)."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

from papilla.services.admission import intake
from papilla.services.lifecycle import enrollments
from papilla.services.match import matching
from papilla.services.match.gallery import Gallery
from papilla.shared.crypto.iin import make_test_iin

from tests.helpers.centre import sealed_packet

PARTS = 2


def start_shard(part: int, env: dict, log_dir) -> tuple[subprocess.Popen, object]:
    log_path = log_dir / f"shard-{part}-{time.monotonic_ns()}.log"
    proc = subprocess.Popen([sys.executable, "-m", "papilla.cli", "shard", "serve", "--part", str(part),
                             "--parts", str(PARTS)], env=env, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while b"ready" not in log_path.read_bytes():
        assert proc.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, "shard did not start"
        time.sleep(0.1)
    return proc, log_path


def enroll_person(centre, fvc_dir, name: str, k: int, fingers: dict[int, str], settle: bool = True) -> str:
    accepted = intake.accept_enrollment(centre, sealed_packet(centre, fvc_dir, f"st-unit-01-{name}",
                                                              make_test_iin(date(1960 + k, 2, 2), k % 2 == 0, k),
                                                              fingers))
    if settle:
        found = matching.deduplicate(centre, Gallery(centre), accepted.enrollment_id)
        assert enrollments.settle(centre, accepted.enrollment_id, *found).status == "ACTIVE"
    return accepted.enrollment_id
