"""A station whose broker answers but refuses its user, password or vhost is misconfigured, not offline: the
operator reads which, and nothing is spooled as if it were an outage (issue 10, "Station spool"). The vhost case
of `station enroll` is in tests/shared/test_worker_start.py."""
from __future__ import annotations

import shutil
from datetime import date

import pytest

from tests.helpers.harness import clean_env, papilla_cli, valid_iins
from tests.helpers.builders import enroll_flags

pytestmark = pytest.mark.broker
STATION, OPERATOR = "st-refused-1", "op-refused-1"
WRONG_PASSWORD = "amqp://guest:wrong@127.0.0.1:5672/%2F"
NO_SUCH_VHOST = "amqp://guest:guest@127.0.0.1:5672/papilla-no-such-vhost"
NOBODY_LISTENS = "amqp://guest:guest@127.0.0.1:1/%2F"
IIN = valid_iins(date(1986, 4, 12), False, 17, 1)[0]


@pytest.fixture
def station_home(tmp_path, data_dir):
    """A station home with its keys, its operator's and the centre's public key file (no centre needed)."""
    env = clean_env()
    papilla_cli(tmp_path / "centre", "centre", "init", env=env)
    papilla_cli(tmp_path / "centre", "centre", "export-public-key", str(tmp_path / "station" / "centre-public.json"),
                env=env)
    papilla_cli(tmp_path / "station", "station", "init", STATION, env=env)
    papilla_cli(tmp_path / "station", "principal", "init", OPERATOR, "--role", "operator", env=env)
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(data_dir / "samples" / "probe.png", images / "1.png")
    shutil.copy(data_dir / "samples" / "nonmatching.png", images / "2.png")
    return tmp_path / "station", images


def enroll(home, images, url: str):
    return papilla_cli(home, "station", "enroll", STATION, "--operator", OPERATOR, "--iin", IIN,
                       "--name", "Refused Broker", "--images", str(images), "--absent", "amputated",
                       *enroll_flags(IIN, consent_ref="form-9"), env=clean_env(PAPILLA_BROKER_URL=url), check=False)


def spooled(home) -> list:
    return list((home / "spool").rglob("*.sealed"))


def test_a_wrong_password_at_enroll_is_named_and_nothing_is_spooled(station_home):
    home, images = station_home
    done = enroll(home, images, WRONG_PASSWORD)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "refused the user name or password" in done.stderr and "wrong" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "spooled" not in done.stdout
    assert spooled(home) == []


def test_a_flush_to_a_refusing_broker_is_named_and_keeps_the_spool(station_home):
    home, images = station_home
    offline = enroll(home, images, NOBODY_LISTENS)          # an outage: the packet is spooled
    assert offline.returncode == 0 and "spooled: the broker is unavailable" in offline.stdout, offline.stderr
    kept = spooled(home)
    assert len(kept) == 1
    for url, sentence in ((WRONG_PASSWORD, "refused the user name or password"),
                          (NO_SUCH_VHOST, "denied access to the virtual host")):
        done = papilla_cli(home, "station", "flush", STATION, env=clean_env(PAPILLA_BROKER_URL=url), check=False)
        assert done.returncode == 2 and sentence in done.stderr, (done.stdout, done.stderr)
        assert spooled(home) == kept
