"""Synthetic fingerprint generator: determinism, variety, class frequencies, geometry, sizes."""
from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from papilla.services.capture.devices import CapturedImage, FolderScanner, Scanner
from papilla.services.capture.synthetic import (
    FINGER_CLASSES, ImpressionParams, class_probabilities, impression, impression_with_info,
    master_fingerprint, person_fingers, synthetic_person)
from papilla.services.capture.synthetic.scanner import SyntheticScanner


@pytest.fixture(scope="module")
def loop():
    return master_fingerprint(11, "right_loop")


def _ridge_corr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    a, b = a[mask] - a[mask].mean(), b[mask] - b[mask].mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_master_is_deterministic_and_seeds_differ(loop):
    from papilla.services.capture.synthetic.master import _master_cached
    _master_cached.cache_clear()                      # really regrow, not the cache
    again = master_fingerprint(11, "right_loop")
    assert again is not loop
    assert np.array_equal(again.ridges, loop.ridges)
    assert again.cores == loop.cores and again.deltas == loop.deltas
    other = master_fingerprint(12, "right_loop")
    both = loop.mask & other.mask
    assert abs(_ridge_corr(loop.ridges, other.ridges, both)) < 0.2


def test_master_has_ridges_at_500dpi(loop):
    m = loop
    assert m.ridges.dtype == np.float32 and m.ridges.shape == m.mask.shape
    assert m.dpi == 500
    assert -1.0 <= m.ridges.min() and m.ridges.max() <= 1.0
    inside = m.ridges[m.mask]
    assert 0.3 < (inside > 0).mean() < 0.7                 # ridges and valleys alike
    assert np.abs(inside).mean() > 0.4                     # converged, not grey mush
    # the dominant ridge period of a 96x96 patch above the core is the model's, at 500 dpi
    cx, cy = int(m.cores[0][0]), int(m.cores[0][1])
    patch = m.ridges[cy - 130:cy - 34, cx - 48:cx + 48]
    spec = np.abs(np.fft.fft2(patch - patch.mean(), s=(512, 512)))    # zero-padded: fine bins
    fy, fx = np.meshgrid(np.fft.fftfreq(512), np.fft.fftfreq(512), indexing="ij")
    k = np.unravel_index(np.argmax(spec), spec.shape)
    period = 1.0 / np.hypot(fy[k], fx[k])
    modelled = float(np.median(m.period[cy - 130:cy - 34, cx - 48:cx + 48]))
    assert 7.5 < modelled < 12.5
    assert period == pytest.approx(modelled, rel=0.15)
    assert len(m.cores) == 1 and len(m.deltas) == 1


@pytest.mark.parametrize("cls,ncores,ndeltas", [("arch", 0, 0), ("tented_arch", 1, 1),
                                                ("left_loop", 1, 1), ("whorl", 2, 2)])
def test_singular_points_by_class(cls, ncores, ndeltas):
    m = master_fingerprint(3, cls)
    assert m.finger_class == cls
    assert (len(m.cores), len(m.deltas)) == (ncores, ndeltas)
    if cls == "left_loop":       # delta to the right of the core (ridges open to the left)
        assert m.deltas[0][0] > m.cores[0][0]


def _poincare_index(orientation: np.ndarray, x: float, y: float, radius: float = 12.0) -> float:
    """Winding of the ridge orientation (mod pi) around (x, y), in turns: +1/2 core, -1/2 delta."""
    a = np.linspace(0, 2 * np.pi, 73)
    th = orientation[np.round(y + radius * np.sin(a)).astype(int), np.round(x + radius * np.cos(a)).astype(int)]
    d = np.mod(np.diff(th) + np.pi / 2, np.pi) - np.pi / 2
    return float(d.sum() / (2 * np.pi))


@pytest.mark.parametrize("cls", ["tented_arch", "left_loop", "right_loop", "whorl"])
def test_singular_points_are_where_the_orientation_winds(cls):
    # the pole shaping (parallel loop legs, triangular deltas) must not move or lose a pole
    m = master_fingerprint(5, cls)
    for x, y in m.cores:
        assert _poincare_index(m.orientation, x, y) == pytest.approx(0.5, abs=0.05)
    for x, y in m.deltas:
        if m.mask[int(y), int(x)]:
            assert _poincare_index(m.orientation, x, y) == pytest.approx(-0.5, abs=0.05)


@pytest.mark.parametrize("cls", FINGER_CLASSES)
def test_ridges_fill_the_whole_pad(cls):
    """No grey, unfilled patches: ridge growth reaches every part of the finger pad."""
    for seed in (21, 22, 23):
        m = master_fingerprint(seed, cls)
        strength = ndimage.gaussian_filter(np.abs(m.ridges), 4.0)
        inner = ndimage.binary_erosion(m.mask, iterations=10)
        assert (strength[inner] < 0.35).mean() < 0.08, (cls, seed)


def test_unknown_class_rejected():
    with pytest.raises(ValueError):
        master_fingerprint(1, "spiral")


def test_impression_size_dtype_and_determinism(loop):
    a = impression(loop, 5)
    assert a.dtype == np.uint8 and a.ndim == 2 and a.shape == (400, 320)
    assert np.array_equal(a, impression(loop, 5))
    b = impression(loop, 6)
    assert np.mean(np.abs(a.astype(int) - b.astype(int))) > 10
    # a visible fingerprint: dark ridges on a light background, real contrast
    assert a.std() > 25 and np.percentile(a, 95) > 150 and np.percentile(a, 5) < 110
    small = impression(loop, 5, ImpressionParams(width=300, height=300))
    assert small.shape == (300, 300)


def test_impressions_align_to_master_up_to_a_transform(loop):
    """Without elastic distortion, pulling two impressions back to the master through
    their (known) rigid transforms superimposes their ridges; distortion keeps it close."""
    rigid = ImpressionParams(distortion=0.0, noise=(0.0, 0.0), dryness=(0.0, 0.0), spots=(0, 0))
    img1, info1 = impression_with_info(loop, 1, rigid)
    img2, info2 = impression_with_info(loop, 2, rigid)
    assert info1.rotation_deg != info2.rotation_deg
    # the maps are the rigid affine transform exactly
    ys, xs = np.mgrid[0:img1.shape[0], 0:img1.shape[1]]
    a = info1.affine
    assert np.allclose(info1.map_x, a[0, 0] * xs + a[0, 1] * ys + a[0, 2], atol=1e-2)
    # master pixels seen by both impressions (with good contact) must agree in intensity
    sums = np.zeros(loop.shape), np.zeros(loop.shape), np.zeros(loop.shape)
    counts = []
    for img, info in ((img1, info1), (img2, info2)):
        acc = np.zeros(loop.shape)
        cnt = np.zeros(loop.shape)
        ok = info.contact > 0.9
        mx = np.rint(info.map_x[ok]).astype(int)
        my = np.rint(info.map_y[ok]).astype(int)
        inside = (mx >= 0) & (my >= 0) & (mx < loop.shape[1]) & (my < loop.shape[0])
        np.add.at(acc, (my[inside], mx[inside]), img[ok][inside])
        np.add.at(cnt, (my[inside], mx[inside]), 1)
        counts.append((acc, cnt))
    both = (counts[0][1] > 0) & (counts[1][1] > 0)
    assert both.sum() > 20000
    v1 = counts[0][0][both] / counts[0][1][both]
    v2 = counts[1][0][both] / counts[1][1][both]
    aligned = np.corrcoef(v1, v2)[0, 1]
    assert aligned > 0.6
    # and against the master's own ridges (dark ridge = positive ridge value)
    assert np.corrcoef(-v1, loop.ridges[both])[0, 1] > 0.6
    # with distortion the map departs from the rigid one by a few pixels, not more
    _, info3 = impression_with_info(loop, 1)
    a3 = info3.affine
    dx = info3.map_x - (a3[0, 0] * xs + a3[0, 1] * ys + a3[0, 2])
    dy = info3.map_y - (a3[1, 0] * xs + a3[1, 1] * ys + a3[1, 2])
    d = np.hypot(dx, dy)[info3.contact > 0.5]
    assert 0.3 < np.median(d) and d.max() < 30


def test_class_distribution_plausible():
    """Over 300 people (3000 fingers, specs only) the frequencies match the brief."""
    counts = {"right": Counter(), "left": Counter()}
    for seed in range(300):
        for spec in person_fingers(seed):
            counts["right" if spec.position <= 5 else "left"][spec.finger_class] += 1
    total = counts["right"] + counts["left"]
    n = sum(total.values())
    freq = {k: total[k] / n for k in FINGER_CLASSES}
    assert 0.58 <= freq["left_loop"] + freq["right_loop"] <= 0.72
    assert 0.22 <= freq["whorl"] <= 0.34
    assert 0.025 <= freq["arch"] <= 0.08
    assert 0.015 <= freq["tented_arch"] <= 0.06
    assert counts["right"]["right_loop"] > 3 * counts["right"]["left_loop"]
    assert counts["left"]["left_loop"] > 3 * counts["left"]["right_loop"]
    for position in range(1, 11):
        assert abs(sum(class_probabilities(position).values()) - 1) < 1e-9


def test_person_is_deterministic_with_ten_positions():
    specs = person_fingers(77)
    assert [s.position for s in specs] == list(range(1, 11))
    assert specs == person_fingers(77) and specs != person_fingers(78)
    assert len({s.seed for s in specs}) == 10
    assert all(s.finger_class in FINGER_CLASSES for s in specs)


@pytest.mark.slow
def test_synthetic_person_builds_ten_masters():
    fingers = synthetic_person(5)
    assert [f.position for f in fingers] == list(range(1, 11))
    assert [f.finger_class for f in fingers] == [s.finger_class for s in person_fingers(5)]


def test_synthetic_scanner_captures_png():
    scanner = SyntheticScanner(person_seed=3, session_seed=9)
    assert isinstance(scanner, Scanner)
    shot = scanner.capture(2)
    assert isinstance(shot, CapturedImage)
    assert (shot.finger_position, shot.dpi, shot.width, shot.height) == (2, 500, 320, 400)
    img = Image.open(io.BytesIO(shot.png))
    assert img.format == "PNG" and img.mode == "L" and img.size == (320, 400)
    assert round(img.info["dpi"][0]) == 500
    retake = scanner.capture(2)
    assert retake.png != shot.png                         # a retake is a new impression
    replay = SyntheticScanner(person_seed=3, session_seed=9).capture(2)
    assert replay.png == shot.png                         # sessions replay exactly
    with pytest.raises(ValueError):
        scanner.capture(11)


def test_folder_scanner(tmp_path):
    pixels = (np.arange(300 * 200) % 251).astype(np.uint8).reshape(300, 200)
    Image.fromarray(pixels).save(tmp_path / "a.png", dpi=(569, 569))
    Image.fromarray(pixels).save(tmp_path / "b.bmp")
    scanner = FolderScanner(tmp_path, {1: "a.png", 6: "b.bmp"})
    a, b = scanner.capture(1), scanner.capture(6)
    assert (a.dpi, b.dpi) == (569, 500) and (a.width, a.height) == (200, 300)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(b.png))), pixels)
    with pytest.raises(KeyError):
        scanner.capture(2)
