"""A station scanner that captures impressions of a synthetic person."""
from __future__ import annotations

import numpy as np

from ..devices import CapturedImage, captured_from_pixels, check_position
from .impression import impression
from .master import MasterFingerprint, finger_master, person_fingers
from .params import DPI, ImpressionParams, MasterParams


class SyntheticScanner:
    """Scanner device for a synthetic person.

    `person_seed` fixes the ten fingers (`synthetic_person`); `session_seed`
    fixes the sequence of impressions: the n-th capture of a finger in a
    session is the same image every time the session is replayed, and a
    retake (capturing the same finger again) gives a new impression.
    """

    def __init__(self, person_seed: int, session_seed: int,
                 impression_params: ImpressionParams | None = None,
                 master_params: MasterParams | None = None):
        self.person_seed = int(person_seed)
        self.session_seed = int(session_seed)
        self.impression_params = impression_params or ImpressionParams()
        self.master_params = master_params
        self.specs = person_fingers(self.person_seed, master_params)
        self._masters: dict[int, MasterFingerprint] = {}
        self._takes: dict[int, int] = {}

    def master(self, finger_position: int) -> MasterFingerprint:
        """The finger's master, grown on first use (about a second) and kept."""
        check_position(finger_position)
        if finger_position not in self._masters:
            self._masters[finger_position] = finger_master(self.specs[finger_position - 1],
                                                           self.master_params)
        return self._masters[finger_position]

    def capture(self, finger_position: int) -> CapturedImage:
        check_position(finger_position)
        take = self._takes.get(finger_position, 0)
        self._takes[finger_position] = take + 1
        seed = int(np.random.SeedSequence(
            [self.session_seed & (2 ** 63 - 1), finger_position, take]).generate_state(1, np.uint64)[0] >> 1)
        pixels = impression(self.master(finger_position), seed, self.impression_params)
        return captured_from_pixels(finger_position, pixels, DPI)
