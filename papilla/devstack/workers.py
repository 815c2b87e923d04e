"""`papilla worker ROLE` as a child process, returned once it is ready."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class WorkerProcess:
    role: str
    proc: subprocess.Popen
    log_path: Path

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_worker(role: str, env: dict, log_dir: Path, *, extra_env: dict | None = None,
                 ready_timeout: float = 180) -> WorkerProcess:
    """The worker process, once it logged `ready:` (RuntimeError with its log's tail if it exits first or is
    not ready in time)."""
    log_path = log_dir / f"{role}-{time.monotonic_ns()}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "papilla.cli", "worker", role],
                            env={**env, **(extra_env or {})}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{role} worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        if b"ready:" in log_path.read_bytes():
            return WorkerProcess(role, proc, log_path)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{role} worker not ready within {ready_timeout} s:\n{log_path.read_text()[-3000:]}")
