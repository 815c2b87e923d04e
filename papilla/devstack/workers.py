"""`papilla …` as a child process (a worker, a console), returned once it is ready."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class WorkerProcess:
    role: str                # what it runs: a worker's role, or a name ("console-station")
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

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_process(name: str, argv: list[str], env: dict, log_dir: Path, ready, *, ready_timeout: float = 180,
                  cwd: Path | None = None) -> WorkerProcess:
    """`papilla ARGV` as a process, once `ready(process)` holds (RuntimeError with its log's tail if it exits
    first or is not ready in time)."""
    log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "papilla.cli", *argv], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=cwd)
    process = WorkerProcess(name, proc, log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{process.text()[-3000:]}")
        if ready(process):
            return process
        time.sleep(0.2)
    process.stop()
    raise RuntimeError(f"{name} not ready within {ready_timeout} s:\n{process.text()[-3000:]}")


def start_worker(role: str, env: dict, log_dir: Path, *, extra_env: dict | None = None,
                 ready_timeout: float = 180) -> WorkerProcess:
    """`papilla worker ROLE` as a process, once it logged `ready:`."""
    return start_process(role, ["worker", role], {**env, **(extra_env or {})}, log_dir,
                         lambda p: "ready:" in p.text(), ready_timeout=ready_timeout)
