"""The README's walkthrough runs as written, command by command, as a newcomer would copy it (issue 21).

The section "A walkthrough: centre, branch and service on one machine" is read from README.md. Each ```console
block names its party in its first line (`# centre`, `# station`, `# service`); each party is one bash
terminal opened in the clone, kept for the whole walkthrough (so `cd`, `export`, `. .venv/bin/activate` and
background jobs hold as they would), with HOME in a temporary folder so `~/papilla/...` is the test's. `$ …`
lines are typed into that terminal; the lines under a command are the screen it must show (stdout and stderr;
`…` within a line stands for any text, a line of its own for any lines). A command ending in `&` (a worker)
shows nothing to compare (a terminal prints its job number); the test waits for `ready:` in the log it
writes to, as the reader is told to. The install line (`python3 -m venv … pip install -e .`) is checked to be
there, not run: this environment is that install (`. .venv/bin/activate` activates it). The walkthrough must
end with a verify MATCH and an adjudicated duplicate."""
from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.console import Vhost, clean_env, rabbit_reachable

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "### A walkthrough: centre, branch and service on one machine"
PARTIES = ("centre", "station", "service")
END = "__walkthrough_step_done__"
BACKGROUND = re.compile(r">\s*(\S+\.log) 2>&1 &$")


@dataclass
class Step:
    party: str
    command: str
    screen: list[str] = field(default_factory=list)


def walkthrough_steps(text: str) -> list[Step]:
    section = text.split(SECTION, 1)[1].split("\n### ", 1)[0]
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.S):
        lines = block.rstrip("\n").split("\n")
        party = lines[0].removeprefix("# ").strip()
        assert party in PARTIES, f"a walkthrough block names its party first, not {lines[0]!r}"
        for line in lines[1:]:
            if line.startswith("$ "):
                steps.append(Step(party, line[2:]))
            else:
                assert steps, f"screen text before any command: {line!r}"
                steps[-1].screen.append(line)
    return steps


def screen_pattern(lines: list[str]) -> re.Pattern:
    parts = [r"(?:.*\n)*?" if line.strip() == "…" else
             ".*?".join(re.escape(piece) for piece in line.split("…")) + r"\n" for line in lines]
    return re.compile("".join(parts))


class Terminal:
    """One party's bash, opened in the clone; each command's output (stdout and stderr) up to its end marker."""

    def __init__(self, env: dict):
        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile"], cwd=ROOT, env=env, text=True, bufsize=1,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.pids: list[int] = []
        self._pending = b""     # read from the pipe's fd directly: a buffered reader hides lines from select()

    def run(self, command: str, timeout: float = 600) -> tuple[str, int]:
        self.proc.stdin.write(f"{command}\nprintf '\\n{END} %s\\n' $?\n")
        self.proc.stdin.flush()
        deadline, fd = time.monotonic() + timeout, self.proc.stdout.fileno()
        marker = re.compile(rf"\n{END} (\d+)\n".encode())
        while time.monotonic() < deadline:
            found = marker.search(self._pending)
            if found:
                text = self._pending[:found.start()].decode(errors="replace")
                self._pending = self._pending[found.end():]
                return (text + "\n" if text and not text.endswith("\n") else text), int(found.group(1))
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                self._pending += os.read(fd, 65536)
        raise AssertionError(f"no end of {command!r} within {timeout} s:\n{self._pending.decode(errors='replace')}")

    def close(self) -> None:
        for pid in self.pids:                     # the workers this terminal started, if `kill %…` did not run
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        self.proc.stdin.close()
        self.proc.wait(60)


def wait_ready(log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and "ready:" in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{log.name}: no `ready:` within {timeout} s:\n{log.read_text(errors='replace')[-2000:]}")


def test_the_readme_walkthrough_runs_as_written(tmp_path):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    text = README.read_text()
    section = text.split(SECTION, 1)[1].split("\n### ", 1)[0]
    assert "python3 -m venv .venv && .venv/bin/pip install -e ." in section
    steps = walkthrough_steps(text)
    typed = [s.command for s in steps]
    assert any("request verify" in c for c in typed) and any("console adjudicate" in c for c in typed)
    activate = f". {Path(sys.prefix) / 'bin' / 'activate'}"    # this install's venv, wherever it is
    with Vhost() as url:
        env = clean_env(HOME=str(tmp_path), PAPILLA_BROKER_URL=url, PAPILLA_METRICS_PORT="0")
        terminals = {party: Terminal(env) for party in PARTIES}
        screens = []
        try:
            for step in steps:
                terminal = terminals[step.party]
                command = activate if step.command == ". .venv/bin/activate" else step.command
                shown, _status = terminal.run(command)
                screens.append((step, shown))
                background = BACKGROUND.search(step.command)
                if background:
                    terminal.pids.append(int(terminal.run("echo $!")[0].strip()))
                    home = tmp_path / "papilla" / step.party
                    wait_ready(home / background.group(1))
                    continue
                assert screen_pattern(step.screen).fullmatch(shown), \
                    f"{step.party}: $ {step.command}\n--- README shows:\n" + "\n".join(step.screen) + \
                    f"\n--- screen:\n{shown}"
        finally:
            for terminal in terminals.values():
                terminal.close()
    verify = next(shown for step, shown in screens if "request verify" in step.command)
    assert '"status": "MATCH"' in verify
    decided = next(shown for step, shown in screens if "console adjudicate" in step.command)
    assert "REJECTED" in decided
