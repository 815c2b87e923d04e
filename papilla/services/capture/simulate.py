"""Load simulation for branch stations: N stations enrolling synthetic applicants at R packets/s for D seconds.

Three phases, so the clock measures the centre and not the simulator's own station work:

1. **prepare**: each planned applicant (a synthetic IIN and name, K fingers from a pool of FVC-layout image
   folders) goes through the real station workflow (`Station.enroll`: legal decision, consent, quality, the
   operator's signature, sealing) into a `HeldOutbox` that keeps the sealed packet instead of sending it;
2. **send**: packet i leaves at start + i/R through its station's real outbox (spooled when the broker is
   down, as at a branch), stations taking turns;
3. **answers**: a collector consuming every station's results queue records when each answer arrived, until all
   are in or the answer timeout passes. Latency = answer received − packet confirmed by the broker.

Applicants get fingers nobody else in the run has while the pool lasts (the reference FVC2002 B sets hold 40
fingers); later applicants repeat them under another IIN and the centre flags them as duplicates
(PENDING_REVIEW), which is real work for the matcher too. The summary says how many were distinct.
"""
from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import pika

from papilla.shared.crypto.iin import make_test_iin
from papilla.shared.results import open_results_queue

from .devices import CapturedImage, FolderScanner


@dataclass(frozen=True)
class Limits:
    """What `papilla station simulate` accepts (a load test must end, and must not flood a shared centre).

    max_stations:   stations taking turns (default 50)
    max_rate:       packets per second, all stations together (default 20)
    max_duration:   seconds of sending (default 600)
    max_packets:    rate × duration (default 2000): each is prepared (quality, sealing) before the clock starts
    max_answer_wait: seconds to wait for the last answers after sending (default 600)
    """

    max_stations: int = 50
    max_rate: float = 20.0
    max_duration: float = 600.0
    max_packets: int = 2000
    max_answer_wait: float = 600.0

    def refusal(self, stations: int, rate: float, duration: float, fingers: int, answer_wait: float) -> str | None:
        """One sentence naming the first value out of bounds, or None."""
        packets = rate * duration
        checks = (
            (1 <= stations <= self.max_stations, f"--stations must be 1 to {self.max_stations}"),
            (0 < rate <= self.max_rate, f"--rate must be above 0 and at most {self.max_rate:g} packets/s"),
            (0 < duration <= self.max_duration, f"--duration must be above 0 and at most {self.max_duration:g} s"),
            (packets <= self.max_packets, f"--rate × --duration is {packets:g} packets; at most "
                                          f"{self.max_packets} per run"),
            (packets >= 1, "--rate × --duration must give at least one packet"),
            (1 <= fingers <= 10, "--fingers must be 1 to 10"),
            (0 < answer_wait <= self.max_answer_wait,
             f"--answer-wait must be above 0 and at most {self.max_answer_wait:g} s"),
        )
        return next((sentence for ok, sentence in checks if not ok), None)


@dataclass(frozen=True)
class Applicant:
    """A synthetic applicant: IIN and name made up, fingers from the image pool."""

    iin: str
    name: str
    fingers: dict[int, tuple[Path, str, int]]    # position -> (folder, file name, dpi)
    distinct: bool                               # no one else in the run has these fingers


def finger_pool(folders: list[Path], dpi_of: Callable[[Path], int]) -> list[tuple[Path, str, int]]:
    """Every finger of FVC-layout folders (`<finger>_<impression>.<ext>`), as (folder, finger id, dpi)."""
    pool = []
    for folder in folders:
        fingers = sorted({p.stem.split("_")[0] for p in folder.iterdir() if "_" in p.stem and p.suffix != ".iso"})
        pool += [(folder, finger, dpi_of(folder)) for finger in fingers]
    return pool


def _image_name(folder: Path, finger: str, impression: int) -> str:
    """The file of this impression (any image extension; .iso templates are not images)."""
    found = sorted(p.name for p in folder.glob(f"{finger}_{impression}.*") if p.suffix != ".iso")
    if not found:
        raise ValueError(f"{folder}: no image for finger {finger} impression {impression}")
    return found[0]


def applicants(count: int, fingers: int, pool: list[tuple[Path, str, int]], seed: int = 0) -> list[Applicant]:
    """`count` applicants with distinct valid test IINs; finger positions 1..`fingers` from the pool, distinct
    while it lasts, then repeated (other impressions, another IIN: a duplicate for the centre to catch)."""
    if len(pool) < fingers:
        raise ValueError(f"the image pool holds {len(pool)} fingers; --fingers {fingers} needs at least that many")
    rng = random.Random(seed)
    distinct_people = len(pool) // fingers
    made, serial = [], 1
    for i in range(count):
        start = (i % distinct_people) * fingers
        impression = 1 + (i // distinct_people) % 8
        chosen = {p: (pool[start + p - 1][0], _image_name(pool[start + p - 1][0], pool[start + p - 1][1],
                                                           impression), pool[start + p - 1][2])
                  for p in range(1, fingers + 1)}
        birth = date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
        while True:
            try:
                iin = make_test_iin(birth, rng.random() < 0.5, serial % 10000)
                break
            except ValueError:
                serial += 1
        serial += 1
        made.append(Applicant(iin, f"Sim Applicant {i + 1}", chosen, distinct=i < distinct_people))
    return made


class PoolScanner:
    """A folder device for one applicant whose fingers come from several folders (each with its own dpi)."""

    def __init__(self, applicant: Applicant):
        self._by_position = {p: FolderScanner(folder, {p: name}, dpi=dpi)
                             for p, (folder, name, dpi) in applicant.fingers.items()}
        self.mapping = {p: name for p, (_, name, _) in applicant.fingers.items()}

    def capture(self, finger_position: int) -> CapturedImage:
        return self._by_position[finger_position].capture(finger_position)


class HeldOutbox:
    """An outbox that keeps sealed packets in memory (the prepare phase); `submit` never sends."""

    def __init__(self):
        self.held: dict[str, bytes] = {}

    def submit(self, packet_id: str, sealed: bytes) -> bool:
        self.held[packet_id] = sealed
        return False


@dataclass
class Prepared:
    station_id: str
    packet_id: str
    sealed: bytes


class AnswerCollector(threading.Thread):
    """Consumes the stations' results queues on its own connection; records the arrival time of each answer."""

    def __init__(self, broker_url: str, openers: dict[str, Callable[[bytes], object]]):
        super().__init__(name="answer-collector", daemon=True)
        self._params = pika.URLParameters(broker_url)
        self._openers = openers
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.arrived: dict[str, tuple[float, str]] = {}     # packet id -> (monotonic time, status)
        self.ready = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            connection = pika.BlockingConnection(self._params)
            for station_id, opener in self._openers.items():   # each station's queue, declared by the centre
                channel, queue = open_results_queue(connection, station_id)
                channel.basic_consume(queue, self._on_message(opener), auto_ack=True)
            self.ready.set()
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=0.1)
            connection.close()
        except Exception as exc:   # reported by the command after the run, never a silent thread death
            self.error = exc
            self.ready.set()

    def _on_message(self, opener):
        def handle(_channel, _method, _props, body):
            result = opener(body)
            if result is not None:
                with self._lock:
                    self.arrived.setdefault(result.request_id, (time.monotonic(), result.status))
        return handle

    def answered(self) -> int:
        with self._lock:
            return len(self.arrived)

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)


@dataclass
class Outcome:
    sent: int = 0
    spooled: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)
    answers: dict[str, tuple[float, str]] = field(default_factory=dict)
    distinct: int = 0
    elapsed: float = 0.0

    def latencies(self) -> list[float]:
        return sorted(self.answers[p][0] - t for p, t in self.sent_at.items() if p in self.answers)

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, status in self.answers.values():
            counts[status] = counts.get(status, 0) + 1
        return dict(sorted(counts.items()))


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of `values` (inclusive method: defined for a single value)."""
    if not values:
        return {}
    if len(values) == 1:
        return {"p50": values[0], "p90": values[0], "p99": values[0], "max": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": max(values)}


def send_paced(prepared: list[Prepared], outboxes: dict, rate: float, outcome: Outcome,
               on_sent: Callable[[], None] = lambda: None) -> None:
    """Send packet i at start + i/rate through its station's outbox; count confirmed and spooled packets."""
    start = time.monotonic()
    for i, item in enumerate(prepared):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)     # pacing the load itself (a schedule, not a wait for a condition)
        if outboxes[item.station_id].submit(item.packet_id, item.sealed):
            outcome.sent += 1
            outcome.sent_at[item.packet_id] = time.monotonic()
        else:
            outcome.spooled += 1
        on_sent()
    outcome.elapsed = time.monotonic() - start


def format_summary(outcome: Outcome, planned: int) -> list[str]:
    answered = len(outcome.answers)
    lines = [f"sent {outcome.sent}, spooled {outcome.spooled}, answered {answered} of {planned}"
             + (f" ({', '.join(f'{s} {n}' for s, n in outcome.statuses().items())})" if answered else ""),
             f"sending took {outcome.elapsed:.1f} s ({outcome.sent / outcome.elapsed if outcome.elapsed else 0:.2f}"
             " packets/s confirmed)",
             f"distinct applicants {outcome.distinct} of {planned} (the others repeat pooled fingers: duplicates)"]
    cuts = percentiles(outcome.latencies())
    if cuts:
        lines.append("latency sent → answered: " + ", ".join(f"{k} {v:.2f} s" for k, v in cuts.items()))
    return lines
