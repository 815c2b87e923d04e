"""The README's walkthrough for a branch operator runs as written (issue 10: "a README walkthrough … that runs
as written (a test executes its commands)").

The section "A branch operator's first enrollment" is read from README.md: each ```console block names its
machine in its first line (`# centre` / `# station`); `$ …` lines are run as their own processes in that
machine's PAPILLA_HOME (the README's /var/lib/papilla) and working directory; the lines under a command are
the screen it must show (stdout and stderr as the operator sees them; `…` within a line stands for any text, a
line of its own for any lines); `# carry FILE to the MACHINE['s PATH]` moves a file between the machines, the
only thing that crosses. The centre's workers are started before the first enrollment, as the README says."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.harness import Vhost, clean_env, rabbit_reachable, start_worker

pytestmark = pytest.mark.broker
README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### A branch operator's first enrollment"
README_HOME = "/var/lib/papilla"
CARRY = re.compile(r"# carry (\S+) to the (centre|station)(?:'s (\S+))?$")


@dataclass
class Step:
    machine: str
    command: str = ""                                   # a `$` line, or a `# carry` line
    screen: list[str] = field(default_factory=list)


def walkthrough_steps(text: str) -> list[Step]:
    section = text.split(SECTION, 1)[1].split("\n### ", 1)[0]
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.S):
        lines = block.rstrip("\n").split("\n")
        machine = lines[0].removeprefix("# ").strip()
        assert machine in ("centre", "station"), f"a walkthrough block names its machine first, not {lines[0]!r}"
        for line in lines[1:]:
            if line.startswith("$ ") or line.startswith("# carry "):
                steps.append(Step(machine, line))
            else:
                assert steps and steps[-1].command.startswith("$ "), f"screen text before any command: {line!r}"
                steps[-1].screen.append(line)
    return steps


def screen_pattern(lines: list[str]) -> re.Pattern:
    parts = [r"(?:.*\n)*?" if line.strip() == "…" else
             ".*?".join(re.escape(piece) for piece in line.split("…")) + r"\n" for line in lines]
    return re.compile("".join(parts))


def fvc_scans(folder: Path, fvc_dir: Path) -> None:
    """The scanner's images for the walkthrough's person: ten FVC2002 DB1_B fingers, first impression."""
    folder.mkdir()
    for position in range(1, 11):
        shutil.copy(fvc_dir / "DB1_B" / f"{100 + position}_1.tif", folder / f"{position}.tif")


def test_the_branch_operator_walkthrough_runs_as_written(tmp_path, fvc_dir):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    steps = walkthrough_steps(README.read_text())
    assert sum("station enroll" in s.command for s in steps) >= 1 and any(s.command.startswith("# carry")
                                                                           for s in steps)
    homes = {name: tmp_path / f"{name}-machine" for name in ("centre", "station")}
    for home in homes.values():
        home.mkdir()
    fvc_scans(homes["station"] / "scans", fvc_dir)
    workers = []
    with Vhost() as url:
        env = clean_env(PAPILLA_BROKER_URL=url, PAPILLA_METRICS_PORT="0")
        try:
            for step in steps:
                here = homes[step.machine]
                if step.command.startswith("# carry "):
                    source, machine, target = CARRY.match(step.command).groups()
                    destination = Path(target.replace(README_HOME, str(homes[machine]))) if target else \
                        homes[machine] / Path(source).name
                    shutil.copy(here / source.replace(README_HOME, str(here)), destination)
                    continue
                command = step.command.replace(README_HOME, str(here))
                if "station enroll" in command and not workers:   # the centre's workers serve from now on
                    centre_env = {**env, "PAPILLA_HOME": str(homes["centre"])}
                    workers = [start_worker(role, centre_env, tmp_path) for role in ("extract", "match", "lifecycle")]
                argv = shlex.split(command[2:])
                assert argv[0] == "papilla", command
                shown = subprocess.run([sys.executable, "-m", "papilla.cli", *argv[1:]], cwd=here,
                                       env={**env, "PAPILLA_HOME": str(here)}, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, timeout=300).stdout
                expected = [line.replace(README_HOME, str(here)) for line in step.screen]
                assert screen_pattern(expected).fullmatch(shown), \
                    f"{step.machine}: {command}\n--- README shows:\n" + "\n".join(expected) + f"\n--- screen:\n{shown}"
        finally:
            for worker in workers:
                worker.stop()
