"""Station behaviour without the centre: refusals before capture, the spool when offline."""
from __future__ import annotations

from datetime import date

import pytest

from papilla.services.capture.outbox import Outbox
from papilla.services.capture.spool import SpoolFacts, spool_facts
from papilla.shared.broker import rabbitmq_broker
from papilla.shared.config import Settings
from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.errors import Refusal
from tests.helpers.builders import papers
from tests.helpers.station import CountingScanner


def test_minor_is_refused_before_capture_with_the_rule(offline_station):
    scanner = CountingScanner()
    with pytest.raises(Refusal) as err:
        offline_station.enroll(**papers(make_test_iin(date(2010, 6, 1), True, 3)), full_name="Young Person",
                               scanner=scanner, operator=offline_station.operator, today=date(2026, 11, 22))
    assert err.value.code == "age_below_18"
    assert err.value.rule == "Rules 406, p.4"
    assert scanner.captures == 0


def test_incapacitated_without_custodian_is_refused(offline_station):
    with pytest.raises(Refusal) as err:
        offline_station.enroll(**papers(make_test_iin(date(1980, 6, 1), True, 3)), full_name="X",
                               scanner=CountingScanner(),
                               operator=offline_station.operator, legal_capacity="incapacitated")
    assert err.value.code == "custodian_required" and "p.5" in err.value.rule


def test_no_printable_finger_is_refused(offline_station):
    with pytest.raises(Refusal) as err:
        offline_station.enroll(**papers(make_test_iin(date(1980, 6, 1), True, 3)), full_name="X",
                               scanner=CountingScanner(),
                               operator=offline_station.operator,
                               finger_status={p: "amputated" for p in range(1, 11)})
    assert err.value.code == "no_printable_fingers"


def test_packet_stays_spooled_while_the_broker_is_unreachable(offline_station, data_dir):
    from papilla.services.capture.devices import FolderScanner

    scanner = FolderScanner(data_dir / "samples", {1: "probe.png", 2: "matching.png"})
    report = offline_station.enroll(**papers(make_test_iin(date(1980, 6, 1), True, 3)), full_name="Offline Person",
                                    scanner=scanner, operator=offline_station.operator,
                                    finger_status={p: "captured" if p <= 2 else "injured" for p in range(1, 11)})
    assert not report.confirmed
    spooled = offline_station.outbox.pending()
    assert [p.name for p in spooled] == [f"{report.packet_id}.sealed"]
    assert b"Offline Person" not in spooled[0].read_bytes()   # sealed: encrypted to the centre
    assert offline_station.outbox.flush() == 0 and offline_station.outbox.pending() == spooled


@pytest.mark.broker
def test_spooled_packet_is_sent_once_the_broker_is_back(offline_station, data_dir, monkeypatch):
    import pika

    from papilla.services.capture.devices import FolderScanner
    from papilla.shared.routing import ENROLL
    from tests.helpers.harness import Vhost

    report = offline_station.enroll(**papers(make_test_iin(date(1980, 6, 1), True, 3)), full_name="Later Person",
                                    scanner=FolderScanner(data_dir / "samples", {1: "probe.png"}),
                                    operator=offline_station.operator,
                                    finger_status={p: "captured" if p == 1 else "injured" for p in range(1, 11)})
    assert not report.confirmed
    spool_dir = offline_station.outbox.spool_dir
    failed = spool_facts("st-test-1", spool_dir)
    assert failed.packets == 1 and failed.last_error is not None and failed.last_error.kind
    assert "Later Person" not in (spool_dir / "last_send_error.json").read_text()
    with Vhost() as url:
        monkeypatch.setenv("PAPILLA_BROKER_URL", url)
        broker = rabbitmq_broker(Settings.from_env())
        back_online = Outbox(spool_dir, broker)
        assert back_online.flush() == 1 and back_online.pending() == []
        assert spool_facts("st-test-1", spool_dir) == SpoolFacts("st-test-1", 0, 0.0, None)   # the error is cleared
        connection = pika.BlockingConnection(pika.URLParameters(url))
        assert connection.channel().queue_declare(ENROLL.queue, passive=True).method.message_count == 1
        connection.close()
        broker.close()
