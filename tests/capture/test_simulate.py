"""The load simulator's applicants and pacing, without a broker (services/capture/simulate.py)."""
from __future__ import annotations

from papilla.services.capture.devices import folder_dpi
from papilla.services.capture.simulate import Outcome, Prepared, applicants, finger_pool, send_paced
from papilla.shared.crypto.iin import validate_iin


def test_applicants_have_distinct_valid_iins_and_distinct_fingers_while_the_pool_lasts(fvc_dir):
    pool = finger_pool([fvc_dir / "DB1_B", fvc_dir / "DB2_B"], folder_dpi)
    assert len(pool) == 20 and {dpi for _, _, dpi in pool} == {500, 569}
    people = applicants(14, 2, pool, seed=3)
    assert len({p.iin for p in people}) == 14 and all(validate_iin(p.iin) == p.iin for p in people)
    assert [p.distinct for p in people] == [True] * 10 + [False] * 4
    first_ten = [(folder, name.split("_")[0]) for p in people[:10] for folder, name, _ in p.fingers.values()]
    assert len(set(first_ten)) == 20                                      # nobody shares a finger
    repeat = people[10].fingers[1]
    assert repeat[1] != people[0].fingers[1][1] and repeat[1].split("_")[0] == people[0].fingers[1][1].split("_")[0]
    assert applicants(14, 2, pool, seed=3) == people                      # a seed replays the same run


class CountingOutbox:
    def __init__(self, confirm: bool):
        self.confirm, self.got = confirm, []

    def submit(self, packet_id, sealed) -> bool:
        self.got.append(packet_id)
        return self.confirm


def test_packets_leave_at_the_rate_through_their_own_station_and_spooled_ones_are_counted():
    up, down = CountingOutbox(True), CountingOutbox(False)
    prepared = [Prepared("st-a" if i % 2 == 0 else "st-b", f"p{i}", b"x") for i in range(6)]
    outcome = Outcome()
    send_paced(prepared, {"st-a": up, "st-b": down}, rate=50.0, outcome=outcome)
    assert up.got == ["p0", "p2", "p4"] and down.got == ["p1", "p3", "p5"]
    assert (outcome.sent, outcome.spooled, set(outcome.sent_at)) == (3, 3, {"p0", "p2", "p4"})
    assert outcome.elapsed >= 5 / 50.0                                   # the sixth left at start + 5/rate
