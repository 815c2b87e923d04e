"""Impression profiles: deterministic by seed, and each changes what it says it changes, measured on the images."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from papilla.commands.synth import PROFILE_NAMES
from papilla.services.capture.synthetic import PROFILES, ImpressionParams, impression, impression_with_info, master_fingerprint

SEEDS = range(1, 7)


@pytest.fixture(scope="module")
def master():
    return master_fingerprint(2031, "right_loop")


def _shots(master, name):
    return [impression_with_info(master, s, PROFILES[name]) for s in SEEDS]


def test_the_command_lists_every_profile():
    assert PROFILE_NAMES == tuple(PROFILES)
    assert PROFILES["nominal"] == ImpressionParams()


@pytest.mark.parametrize("name", list(PROFILES))
def test_profiles_are_deterministic_by_seed(master, name):
    a, b = impression(master, 5, PROFILES[name]), impression(master, 5, PROFILES[name])
    assert np.array_equal(a, b)
    assert not np.array_equal(a, impression(master, 6, PROFILES[name]))
    if name != "nominal":
        assert not np.array_equal(a, impression(master, 5))


def _skin_shift(info) -> float:
    """Largest distance, inside the contact, between where a pixel samples the master and where the rigid
    placement alone would put it."""
    h, w = info.map_x.shape
    yy, xx = np.mgrid[0:h, 0:w]
    a = info.affine
    rx, ry = a[0, 0] * xx + a[0, 1] * yy + a[0, 2], a[1, 0] * xx + a[1, 1] * yy + a[1, 2]
    d = np.hypot(info.map_x - rx, info.map_y - ry)
    return float(np.percentile(d[info.contact > 0.5], 99))


def _print_area(img) -> float:
    """Share of the image with ridge texture: local grey-level spread over 15 x 15 px above 12 levels."""
    f = img.astype(np.float32)
    var = ndimage.uniform_filter(f * f, 15) - ndimage.uniform_filter(f, 15) ** 2
    return float((var > 144).mean())


def _contact_levels(img, info) -> tuple[float, float]:
    """(ridge/valley contrast: 85th minus 15th percentile grey inside the full contact, its mean grey)."""
    v = img[info.contact > 0.95].astype(np.float32)
    return float(np.percentile(v, 85) - np.percentile(v, 15)), float(v.mean())


def test_distorted_profile_shifts_the_skin_further(master):
    nominal = np.mean([_skin_shift(i) for _, i in _shots(master, "nominal")])
    distorted = np.mean([_skin_shift(i) for _, i in _shots(master, "distorted")])
    assert distorted > 1.5 * nominal


def test_small_contact_profile_shows_less_print_on_the_image(master):
    nominal = np.mean([_print_area(img) for img, _ in _shots(master, "nominal")])
    small = np.mean([_print_area(img) for img, _ in _shots(master, "small_contact")])
    assert small < 0.7 * nominal


def test_wet_profile_lowers_ridge_valley_contrast_and_darkens_the_valleys(master):
    nominal = np.array([_contact_levels(img, i) for img, i in _shots(master, "nominal")]).mean(0)
    wet = np.array([_contact_levels(img, i) for img, i in _shots(master, "wet")]).mean(0)
    assert wet[0] < 0.9 * nominal[0]     # merged ridges: less difference between ridge and valley
    assert wet[1] < nominal[1] - 10      # valleys filled: the contact is darker overall


def test_dry_profile_leaves_less_of_the_contact_inked(master):
    nominal = np.mean([_contact_levels(img, i)[1] for img, i in _shots(master, "nominal")])
    dry = np.mean([_contact_levels(img, i)[1] for img, i in _shots(master, "dry")])
    assert dry > nominal + 10            # broken, thin ridges: a lighter contact
