"""`papilla station flush --retry-for S`: while the broker is out of reach the outbox tries again after growing
pauses (first, doubled, capped), sends every spooled packet once it is back, and gives up at the deadline with
the packets still spooled. The clock and the pause are the test's, the broker is real (an own vhost)."""
from __future__ import annotations

import pika
import pytest

from papilla.services.capture.outbox import Outbox, ResendBackoff
from papilla.shared.broker import rabbitmq_broker
from papilla.shared.config import Settings
from papilla.shared.routing import ENROLL

from tests.helpers.harness import Vhost

NO_JITTER = ResendBackoff(first_s=1.0, factor=2.0, max_s=5.0, jitter=0.0)


class FakeClock:
    def __init__(self):
        self.now, self.pauses = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def spooled(tmp_path, monkeypatch, count: int) -> Outbox:
    monkeypatch.setenv("PAPILLA_HOME", str(tmp_path))
    monkeypatch.setenv("PAPILLA_BROKER_URL", "amqp://guest:guest@127.0.0.1:1/%2F")   # nothing listens there
    outbox = Outbox(tmp_path / "spool", rabbitmq_broker(Settings.from_env()))
    for n in range(count):
        outbox.put(f"st-backoff-{n}", f"sealed packet {n}".encode())
    return outbox


@pytest.mark.broker
def test_the_outbox_tries_again_with_growing_pauses_and_sends_everything_once_the_broker_is_back(
        tmp_path, monkeypatch):
    outbox, clock = spooled(tmp_path, monkeypatch, 3), FakeClock()
    offline = outbox.broker
    with Vhost() as url:
        monkeypatch.setenv("PAPILLA_BROKER_URL", url)
        online = rabbitmq_broker(Settings.from_env())

        def pause(seconds: float) -> None:   # the broker comes back during the third pause
            clock.sleep(seconds)
            if len(clock.pauses) == 3:
                outbox.broker = online

        assert outbox.drain(60, NO_JITTER, sleep=pause, clock=clock) == 3
        assert clock.pauses == [1.0, 2.0, 4.0] and outbox.pending() == []
        connection = pika.BlockingConnection(pika.URLParameters(url))
        assert connection.channel().queue_declare(ENROLL.queue, passive=True).method.message_count == 3
        connection.close()
        online.close()
    offline.close()


def test_the_outbox_gives_up_at_the_deadline_and_keeps_the_packets(tmp_path, monkeypatch):
    outbox, clock = spooled(tmp_path, monkeypatch, 2), FakeClock()
    assert outbox.drain(20, NO_JITTER, sleep=clock.sleep, clock=clock) == 0
    assert clock.pauses == [1.0, 2.0, 4.0, 5.0, 5.0] and sum(clock.pauses) <= 20   # capped at max_s
    assert len(outbox.pending()) == 2
    outbox.broker.close()


def test_pauses_carry_jitter_within_its_bound():
    pauses = ResendBackoff(first_s=1.0, factor=2.0, max_s=8.0, jitter=0.5).pauses(lambda: 1.0)
    assert [next(pauses) for _ in range(5)] == [1.5, 3.0, 6.0, 12.0, 12.0]
