"""Named impression profiles: the failure modes a registry sees, each one parameter set (data, not code).

`nominal` is the default (FVC2002-like plain captures); each other profile pushes one failure mode past it and
`hard` pushes them all at once. Selected by `papilla synth --profile NAME` and `papilla bench accuracy
--synthetic NAME[,NAME...]`.

| profile | what changes (against nominal) |
|---|---|
| nominal | nothing: `ImpressionParams()` |
| distorted | skin pushed twice as far (outer region up to 32 px, 8 degrees) from a smaller close-contact core, random warp doubled |
| dry | light pressure (thin ridges), 40-75 % of ridge pixels broken, lower contrast |
| wet | heavy pressure, ink spread across 35-75 % of the valleys (merged ridges), 1-5 sweat drops |
| small_contact | contact ellipse 45-65 % of the finger (nominal 76-105 %), placed further off centre |
| hard | all four at once |
"""
from __future__ import annotations

from dataclasses import replace

from .params import ImpressionParams

NOMINAL = ImpressionParams()

DISTORTED = replace(NOMINAL, max_skin_shift=32.0, max_skin_rotation=8.0, inner_radius=(25.0, 55.0),
                    transition=(60.0, 110.0), random_warp=5.0)

DRY = replace(NOMINAL, pressure=(-0.55, -0.2), dryness=(0.4, 0.75), contrast=(80.0, 130.0))

WET = replace(NOMINAL, pressure=(0.1, 0.35), wetness=(0.35, 0.75), wet_blobs=(1, 5))

SMALL_CONTACT = replace(NOMINAL, contact_scale=(0.45, 0.65), contact_offset=60.0)

HARD = replace(NOMINAL,
               **{k: getattr(DISTORTED, k) for k in ("max_skin_shift", "max_skin_rotation", "inner_radius",
                                                     "transition", "random_warp")},
               **{k: getattr(DRY, k) for k in ("dryness", "contrast")},
               **{k: getattr(WET, k) for k in ("wetness", "wet_blobs")},
               pressure=(-0.3, 0.3),   # dry and wet in one set: both ends of the pressure range
               **{k: getattr(SMALL_CONTACT, k) for k in ("contact_scale", "contact_offset")})

PROFILES: dict[str, ImpressionParams] = {"nominal": NOMINAL, "distorted": DISTORTED, "dry": DRY, "wet": WET,
                                         "small_contact": SMALL_CONTACT, "hard": HARD}


def profile(name: str) -> ImpressionParams:
    """The named profile's parameters; KeyError names the known ones."""
    if name not in PROFILES:
        raise KeyError(f"unknown impression profile {name!r}: known are {', '.join(PROFILES)}")
    return PROFILES[name]
