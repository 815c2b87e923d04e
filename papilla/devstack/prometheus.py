"""A Prometheus server (Debian's package) on a free port of 127.0.0.1, scraping local workers."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from papilla.shared.routing import ROLE_METRICS_OFFSET

from .ports import free_port

ROLES = ("extract", "match", "lifecycle")


def prometheus_config(shipped: Path, base_port: int, rules: Path, *, scrape_interval: str | None = None) -> dict:
    """The shipped prometheus.yml (`shipped`), its worker jobs pointed at the workers listening from
    `base_port` (the other jobs dropped), `rules` as its rule file."""
    config = yaml.safe_load(shipped.read_text())
    if scrape_interval:
        config["global"].update(scrape_interval=scrape_interval, evaluation_interval=scrape_interval)
    config["rule_files"] = [str(rules)]
    jobs = []
    for job in config["scrape_configs"]:
        role = job["job_name"].removeprefix("papilla-")
        if role in ROLES:
            job.pop("file_sd_configs", None)
            job["static_configs"] = [{"targets": [f"127.0.0.1:{base_port + ROLE_METRICS_OFFSET[role]}"]}]
            jobs.append(job)
    if {j["job_name"] for j in jobs} != {f"papilla-{r}" for r in ROLES}:
        raise RuntimeError(f"{shipped} lacks a scrape job for one of {ROLES}")
    config["scrape_configs"] = jobs
    return config


def wait_for(condition, timeout: float, what: str, poll: float = 0.5):
    """condition()'s first true value within `timeout` seconds (TimeoutError naming `what` otherwise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"timed out waiting for {what}")


class Prometheus:
    def __init__(self, workdir: Path, config: dict):
        exe = shutil.which("prometheus")
        if exe is None:
            raise RuntimeError("prometheus not found: install Debian's `prometheus` package (./run.sh test does)")
        self.port = free_port()
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [exe, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self._ready, 60, "prometheus ready")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited: {Path(self.log.name).read_text()[-2000:]}")
        try:
            return urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).status == 200
        except OSError:
            return False

    def api(self, path: str, **params) -> dict:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        body = json.load(urllib.request.urlopen(url, timeout=10))
        if body["status"] != "success":
            raise RuntimeError(f"prometheus {path} failed: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
