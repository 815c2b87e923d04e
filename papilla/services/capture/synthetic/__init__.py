"""Synthetic fingerprints in the spirit of SFinGe (Cappelli, Maio, Maltoni).

    from papilla.services.capture.synthetic import (
        master_fingerprint, impression, synthetic_person)

    m = master_fingerprint(7, "whorl")        # the finger pad's ridge pattern
    img = impression(m, seed=1)               # uint8 (400, 320), 500 dpi
    fingers = synthetic_person(42)            # 10 masters, ISO positions 1..10

Masters are deterministic for (seed, class, params) and cached in memory
(the most recent 24); impressions are deterministic for (master, seed,
params).  See `params.py` for every knob and its default.
"""
from .impression import ImpressionInfo, impression, impression_with_info
from .master import (FingerSpec, MasterFingerprint, class_probabilities, finger_master,
                     master_fingerprint, person_fingers, synthetic_person)
from .params import DPI, FINGER_CLASSES, ImpressionParams, MasterParams
from .profiles import PROFILES, profile

__all__ = [
    "DPI", "FINGER_CLASSES", "FingerSpec", "finger_master", "person_fingers", "ImpressionInfo", "ImpressionParams", "MasterFingerprint",
    "MasterParams", "class_probabilities", "impression", "impression_with_info",
    "master_fingerprint", "synthetic_person", "PROFILES", "profile",
]
