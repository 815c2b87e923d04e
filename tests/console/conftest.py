"""One world for the console's browser tests: centre and station homes, the centre's three workers and both
consoles as processes over a throwaway vhost of the real RabbitMQ; Debian's chromium through Playwright."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from tests.helpers.console import (VIEWPORT, Vhost, World, clean_env, console, launch_chromium, onboard, person_folders,
                                   rabbit_reachable, worker)

STATION, SERVICE = "st-console-01", "svc-console-branch"
OPERATORS = {"op-console-07": "operator", "aud-at-branch": "auditor"}
CENTRE_PRINCIPALS = {"adj-console-01": "adjudicator", "aud-console-01": "auditor", "hou-console-01": "head_of_unit"}
#: the scanner's folders: Aigerim's ten fingers (FVC2002 DB1_B 101-110), and the same fingers captured again
PEOPLE = {"aigerim": (101, 1), "aigerim-again": (101, 2)}
#: another person (FVC2002 DB3_B 101-110) whose right little finger leaves no print on the scanner (a blank frame)
BLANK_FINGER = ("samal", 5)


@pytest.fixture(scope="package")
def world(tmp_path_factory, fvc_dir):
    if not rabbit_reachable():
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    root = tmp_path_factory.mktemp("console")
    logs = root / "logs"
    logs.mkdir()
    with Vhost() as url:
        env = clean_env(PAPILLA_BROKER_URL=url, PAPILLA_METRICS_PORT="0", PAPILLA_MIN_BACKOFF_MS="200")
        w = World(root, url, env, root / "centre-home", root / "station-home", STATION, OPERATORS,
                  CENTRE_PRINCIPALS, SERVICE)
        onboard(w)
        scans = person_folders(root / "scans", fvc_dir / "DB1_B", PEOPLE)
        person_folders(scans, fvc_dir / "DB3_B", {BLANK_FINGER[0]: (101, 1)})
        blank_frame(scans / BLANK_FINGER[0] / f"{BLANK_FINGER[1]}.tif")
        centre_env, station_env = {**env, "PAPILLA_HOME": str(w.centre)}, {**env, "PAPILLA_HOME": str(w.station)}
        try:
            for role in ("extract", "match", "lifecycle"):
                w.processes.append(worker(role, centre_env, logs))
            process, w.centre_url = console("centre", [], centre_env, logs)
            w.processes.append(process)
            process, w.station_url = console("station", [STATION, "--images", str(scans), "--service", SERVICE],
                                             station_env, logs)
            w.processes.append(process)
            yield w
        finally:
            w.stop()


def blank_frame(path) -> None:
    """What a scanner returns when the finger leaves no pattern: an empty white frame."""
    Image.fromarray(np.full((374, 388), 255, np.uint8)).save(path)


@pytest.fixture(scope="package")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser):
    """A page in a browser context of its own (one person's browser), 1366x768."""
    contexts = []

    def make():
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        return context.new_page()
    yield make
    for context in contexts:
        context.close()
