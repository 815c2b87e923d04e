"""Master fingerprints: the ridge pattern of a whole finger pad.

Steps (after SFinGe, Cappelli, Maio, Maltoni):

1. silhouette: two half ellipses joined by a straight band;
2. singular points placed by class (arch: none; tented arch: core above a
   close delta; left/right loop: core and one delta to the right/left;
   whorl: two cores and two deltas);
3. orientation field from the zero-pole model (Sherlock and Monro 1993),
   with random monotone corrections of each pole's angle (Vizcaya and
   Gerhardt 1996), each pole's angle map slowed along its legs (parallel
   loop legs, triangular deltas: `_parallel_poles`) and a small smooth
   random perturbation; arches use an arch-bump model instead;
4. ridge-period field: a per-finger mean, a smooth random variation and a
   longer period towards the tip;
5. ridges grown by iterative contextual filtering from one seed at the core
   (`ridges.grow_ridges`), each pixel refined a fixed number of steps after
   the front reaches it, until the whole pad is filled;
6. random pairs of phase dislocations (`_dislocations`): most minutiae.

Conventions: image coordinates, x to the right (columns), y down (rows);
orientations are ridge directions in radians in that frame, modulo pi.
Left loop: ridges enter and leave on the left of the image, the delta lies
to the lower right of the core (right loop: mirrored).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from ._fields import smooth_noise
from .params import FINGER_CLASSES, DPI, MasterParams
from .ridges import grow_ridges

# Class probabilities per finger position (1 right thumb .. 5 right little,
# 6 left thumb .. 10 left little), following published Henry-class
# frequencies: ulnar loops dominate, radial loops are mostly on index
# fingers, whorls on thumbs and ring fingers, arches on index and middle
# fingers.  Ulnar loops are right loops on the right hand (as imaged).
#                 whorl  ulnar radial arch  tented
_BY_FINGER = {1: (0.42, 0.52, 0.02, 0.02, 0.02),
              2: (0.27, 0.37, 0.16, 0.11, 0.09),
              3: (0.16, 0.72, 0.03, 0.06, 0.03),
              4: (0.38, 0.56, 0.02, 0.02, 0.02),
              5: (0.14, 0.82, 0.01, 0.02, 0.01)}


def class_probabilities(position: int) -> dict[str, float]:
    """P(class) for ISO/ANSI finger position 1..10."""
    if not 1 <= position <= 10:
        raise ValueError("finger position must be 1..10")
    w, ulnar, radial, arch, tented = _BY_FINGER[(position - 1) % 5 + 1]
    right_hand = position <= 5
    probs = {"arch": arch, "tented_arch": tented, "whorl": w,
             "right_loop": ulnar if right_hand else radial,
             "left_loop": radial if right_hand else ulnar}
    total = sum(probs.values())
    return {k: v / total for k, v in probs.items()}


@dataclass(frozen=True, eq=False)
class MasterFingerprint:
    """The ridge pattern of one finger; impressions are taken from it."""

    seed: int
    finger_class: str
    ridges: np.ndarray          # float32 (H, W) in [-1, 1], ridge > 0, 0 outside the finger
    mask: np.ndarray            # bool (H, W): the finger pad
    orientation: np.ndarray     # float32 (H, W), ridge direction, radians mod pi
    period: np.ndarray          # float32 (H, W), ridge period in px
    cores: tuple[tuple[float, float], ...] = ()   # (x, y) in master pixels
    deltas: tuple[tuple[float, float], ...] = ()
    center: tuple[float, float] = (0.0, 0.0)      # (x, y) centre of the finger pad
    size: tuple[float, float] = (0.0, 0.0)        # (half width, half height)
    position: int | None = None                   # ISO finger position when from a person
    dpi: int = DPI
    mean_period: float = 9.5

    @property
    def shape(self) -> tuple[int, int]:
        return self.ridges.shape


def _silhouette(rng, p: MasterParams):
    h, w = p.canvas_height, p.canvas_width
    a = rng.uniform(*p.half_width)
    b1 = rng.uniform(*p.top_height)
    b2 = rng.uniform(*p.bottom_height)
    band = rng.uniform(*p.band_height)
    total = b1 + band + b2
    if total > h - 8:   # keep the finger inside the canvas
        s = (h - 8) / total
        b1, band, b2 = b1 * s, band * s, b2 * s
        total = h - 8
    a = min(a, w / 2 - 4)
    cx = w / 2.0
    top = (h - total) / 2.0
    cy = top + b1 + band / 2.0           # centre of the pad
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = (xx - cx) / a
    y_band_top, y_band_bot = top + b1, top + b1 + band
    dy = np.where(yy < y_band_top, (yy - y_band_top) / b1,
                  np.where(yy > y_band_bot, (yy - y_band_bot) / b2, 0.0))
    mask = dx ** 2 + dy ** 2 <= 1.0
    return mask, (cx, cy), (a, total / 2.0)


def _singular_points(rng, cls: str, center, size, p: MasterParams):
    cx, cy = center
    a, hh = size
    # the core sits near the middle of the pad, a little above
    core = np.array([cx + rng.normal(0, 0.07 * a), cy + rng.normal(-0.08 * hh, 0.10 * hh)])
    cores, deltas = [], []
    if cls == "tented_arch":
        cores = [core]
        deltas = [core + np.array([rng.normal(0, 8), rng.uniform(45, 80)])]
    elif cls in ("left_loop", "right_loop"):
        side = 1.0 if cls == "left_loop" else -1.0
        dist = rng.uniform(80, 170)
        ang = np.deg2rad(rng.uniform(30, 60))    # angle below the horizontal
        cores = [core]
        deltas = [core + np.array([side * dist * np.cos(ang), dist * np.sin(ang)])]
    elif cls == "whorl":
        sep = rng.uniform(*p.whorl_core_separation)
        ang = rng.uniform(0, np.pi)
        off = 0.5 * sep * np.array([np.cos(ang), np.sin(ang)])
        cores = [core - off, core + off]
        lo = core[1] + rng.uniform(70, 140)
        spread = rng.uniform(110, 160)
        skew = rng.normal(0, 15)
        deltas = [np.array([core[0] - spread + skew, lo + rng.normal(0, 12)]),
                  np.array([core[0] + spread + skew, lo + rng.normal(0, 12)])]
    return [tuple(map(float, c)) for c in cores], [tuple(map(float, d)) for d in deltas]


def _correction(rng, amplitude: float):
    """A random monotone map of angles, g(a) = a + sum c_n sin(n a) (|sum n c_n| < 1)."""
    coeffs = rng.uniform(-amplitude, amplitude, 3) / np.array([1.0, 2.0, 3.0])
    phases = rng.uniform(0, 2 * np.pi, 3)

    def g(alpha):
        out = alpha.copy()
        for n, (c, ph) in enumerate(zip(coeffs, phases), start=1):
            out += c * (np.sin(n * alpha + ph) - np.sin(ph))
        return out
    return g


def _pole_field(z, poles, tilt, rot):
    theta = np.full(z.shape, tilt)
    for zz, g, sign in poles:
        theta = theta + sign * 0.5 * g(np.angle((z - zz) / rot))
    return theta


def _parallel_poles(poles, tilt, rot, amount: float):
    """The poles with their angle maps slowed down along their radial legs.

    Around a pure zero-pole core the ridges diverge like nested parabolas
    (spacing ~ sqrt of the distance along the loop's legs), and around a
    delta like hyperbolas, so a constant ridge period forces fans of ridge
    endings along the loop's axis and the delta's legs: the same rosettes of
    minutiae in every synthetic loop, which real fingers do not have (a
    loop's legs run nearly parallel around nested hairpins, a delta's three
    ridge systems meet in a near triangle).  A pole's legs leave it where the
    ridge direction is radial (one direction for a core, three for a delta);
    subtracting amount/m * sin(m (a - a_leg)) (m = 1 core, 3 delta) from its
    angle map slows the turning of the field along its legs and speeds it up
    between them.  At amount 1 the field around a core is exactly nested
    hairpins (half circles and parallel legs, constant spacing); the poles do
    not move.
    """
    alpha = np.linspace(-np.pi, np.pi, 720, endpoint=False)
    out = []
    for zz, g, sign in poles:
        ring = zz + 20.0 * np.exp(1j * alpha) * rot
        theta = _pole_field(ring, poles, tilt, rot)
        off_radial = np.mod(theta - (alpha + tilt) + np.pi / 2, np.pi) - np.pi / 2
        a_leg = float(alpha[int(np.argmin(np.abs(off_radial)))])
        m = 1.0 if sign > 0 else 3.0
        out.append((zz, _slowed(g, amount / m, m, a_leg), sign))
    return out


def _slowed(g, c: float, m: float, a_leg: float):
    def slowed(a):
        return g(a) - c * np.sin(m * (a - a_leg))
    return slowed


def _orientation(rng, cls, shape, center, size, cores, deltas, p: MasterParams):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    tilt = np.deg2rad(rng.normal(0, p.pattern_tilt))
    cx, cy = center
    a, hh = size
    if cls == "arch":
        # ridges follow y = y0 - A(y0) * bump(x): flat at the bottom, arched above
        ax = (xx - cx) / (a * rng.uniform(0.45, 0.75))
        peak = cy + rng.normal(-0.1 * hh, 0.08 * hh)
        amp = rng.uniform(0.35, 0.8) * np.exp(-((yy - peak) / (0.55 * hh)) ** 2)
        amp *= np.clip((yy - (cy - 1.3 * hh)) / (0.5 * hh), 0, 1)   # flatter near the tip
        slope = amp * 2 * ax * np.exp(-ax ** 2)   # d(-bump)/dx of the ridge line, y down
        theta = np.arctan(slope) + tilt
    else:
        rot = np.exp(1j * tilt)
        # (position, angle map, sign): the field is tilt + sum sign * g(arg(z - pole)) / 2;
        # the poles turn with the pattern's tilt (deltas' maps drawn first)
        signed = [(d, -1.0) for d in _rotate_points(deltas, center, tilt)] + \
                 [(c, 1.0) for c in _rotate_points(cores, center, tilt)]
        poles = [(complex(x, y), _correction(rng, p.pole_correction), sign) for (x, y), sign in signed]
        if p.pole_parallelism > 0:
            poles = _parallel_poles(poles, tilt, rot, p.pole_parallelism)
        theta = _pole_field(xx + 1j * yy, poles, tilt, rot)
    amount = p.arch_orientation_noise if cls == "arch" else p.orientation_noise
    noise = smooth_noise(rng, shape, 90.0) * np.deg2rad(amount)
    theta = theta + noise
    return np.mod(theta, np.pi).astype(np.float32), tilt


def _rotate_points(points, center, angle):
    c, s = np.cos(angle), np.sin(angle)
    out = []
    for x, y in points:
        dx, dy = x - center[0], y - center[1]
        out.append((center[0] + c * dx - s * dy, center[1] + s * dx + c * dy))
    return tuple(out)


def _period(rng, shape, center, size, cores, p: MasterParams, mean: float):
    h, w = shape
    yy = np.mgrid[0:h, 0:w][0].astype(np.float32)
    top = min([c[1] for c in cores], default=center[1] - 0.2 * size[1])
    tip = p.period_tip_increase / (1.0 + np.exp((yy - (top - 90.0)) / 25.0))
    var = p.period_variation * smooth_noise(rng, shape, 120.0)
    return (mean + var + tip).astype(np.float32)


def _seeds(rng, mask, p: MasterParams, density: float, cores=(), center=None):
    if density <= 0:
        # one seed: at the core (the middle of a whorl's two), else the pad's centre;
        # ridges grow outwards in one piece and leave no seams
        x, y = np.mean(cores, axis=0) if len(cores) else center
        return np.array([[round(y), round(x), 1.0]])
    rows, cols = np.nonzero(mask)
    n = max(3, int(round(rows.size * density)))
    idx = list(rng.choice(rows.size, size=n, replace=False))
    # few random seeds leave few growth seams (their minutiae are too regular),
    # but every part of the pad must be within reach of growth: add a seed at
    # the farthest point until none is farther than `seed_reach` px
    free = np.ones(mask.shape, bool)
    free[rows[idx], cols[idx]] = False
    for _ in range(64):
        dist, (ir, ic) = ndimage.distance_transform_edt(free, return_indices=True)
        dist[~mask] = 0.0
        k = int(np.argmax(dist))
        if dist.flat[k] <= p.seed_reach:
            break
        r, c = divmod(k, mask.shape[1])
        free[r, c] = False
        idx.append(int(np.flatnonzero((rows == r) & (cols == c))[0]))
    idx = np.array(idx)
    signs = rng.choice([-1.0, 1.0], size=idx.size)
    return np.stack([rows[idx], cols[idx], signs], axis=1)


def _dislocations(rng, ridges, orientation, period, mask, p: MasterParams):
    """Warp the ridges with random pairs of opposite phase dislocations.

    A pair at z1, z2 shifts the pattern across the ridges (along the normal
    n0 at the pair's centre) by T0 * arg((z - z1) / (z - z2)) / 2pi: the
    shift jumps by exactly one period across the segment z1-z2 (seamless),
    and dies away with distance, so each pair adds a ridge ending,
    bifurcation, short ridge or island in a place chosen at random.
    """
    n_pairs = int(rng.poisson(p.dislocation_pairs * rng.uniform(*p.dislocation_spread)))
    if n_pairs == 0:
        return ridges
    h, w = ridges.shape
    rows, cols = np.nonzero(mask)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = np.zeros((h, w), np.float32)
    dy = np.zeros((h, w), np.float32)
    for _ in range(n_pairs):
        k = int(rng.integers(rows.size))
        cy, cx = float(rows[k]), float(cols[k])
        length = rng.uniform(*p.dislocation_length)
        ang = rng.uniform(0, np.pi)
        ux, uy = 0.5 * length * np.cos(ang), 0.5 * length * np.sin(ang)
        th = float(orientation[rows[k], cols[k]])
        t0 = float(period[rows[k], cols[k]])
        nx, ny = -np.sin(th), np.cos(th)
        r = int(min(max(h, w), 4.0 * length + 3 * t0))
        y0, y1 = max(0, int(cy) - r), min(h, int(cy) + r + 1)
        x0, x1 = max(0, int(cx) - r), min(w, int(cx) + r + 1)
        sx, sy = xx[y0:y1, x0:x1] - cx, yy[y0:y1, x0:x1] - cy
        delta = (np.arctan2(sy - uy, sx - ux) - np.arctan2(sy + uy, sx + ux) + np.pi) % (2 * np.pi) - np.pi
        dist = np.sqrt(sx * sx + sy * sy)
        scale = 1.3 * length + t0
        taper = np.exp(-0.5 * (np.maximum(dist - scale, 0.0) / scale) ** 2)
        amp = rng.choice([-1.0, 1.0]) * t0 / (2 * np.pi) * delta * taper
        dx[y0:y1, x0:x1] += amp * nx
        dy[y0:y1, x0:x1] += amp * ny
    out = ndimage.map_coordinates(ridges, [yy - dy, xx - dx], order=1, mode="nearest")
    return out.astype(np.float32)


def _class_seed(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & (2 ** 63 - 1), 0x5EED]))


def master_fingerprint(seed: int, finger_class: str | None = None,
                       params: MasterParams | None = None, *, position: int | None = None,
                       mean_period: float | None = None) -> MasterFingerprint:
    """The master fingerprint for `seed` (deterministic; cached).

    `finger_class` is one of FINGER_CLASSES; when None it is drawn from the
    overall class frequencies (from `position`'s when given).
    `mean_period` overrides the random mean ridge period (a person's fingers
    share a similar one).
    """
    params = params or MasterParams()
    if finger_class is not None and finger_class not in FINGER_CLASSES:
        raise ValueError(f"unknown finger class {finger_class!r}; expected one of {FINGER_CLASSES}")
    return _master_cached(int(seed), finger_class, params, position,
                          None if mean_period is None else round(float(mean_period), 4))


@lru_cache(maxsize=24)
def _master_cached(seed, finger_class, params, position, mean_period) -> MasterFingerprint:
    rng = _class_seed(seed)
    if finger_class is None:
        if position is None:
            probs = {"arch": 0.04, "tented_arch": 0.03, "left_loop": 0.32,
                     "right_loop": 0.32, "whorl": 0.29}
        else:
            probs = class_probabilities(position)
        names = list(probs)
        finger_class = names[int(rng.choice(len(names), p=np.array([probs[n] for n in names])))]
    rng = np.random.default_rng(np.random.SeedSequence([seed & (2 ** 63 - 1), 0xF1, FINGER_CLASSES.index(finger_class)]))
    mask, center, size = _silhouette(rng, params)
    shape = mask.shape
    cores, deltas = _singular_points(rng, finger_class, center, size, params)
    orientation, tilt = _orientation(rng, finger_class, shape, center, size, cores, deltas, params)
    cores, deltas = _rotate_points(cores, center, tilt), _rotate_points(deltas, center, tilt)
    mean = float(mean_period) if mean_period is not None else float(rng.uniform(*params.mean_period))
    period = _period(rng, shape, center, size, cores, params, mean)
    grow_area = ndimage.binary_dilation(mask, iterations=6)
    density = params.seed_density * (params.arch_seed_factor if finger_class == "arch" else 1.0)
    seeds = _seeds(rng, mask, params, density, cores, center)
    ridges = grow_ridges(orientation, period, grow_area, seeds, params.iterations, params.gain,
                         params.sigma_across, params.sigma_along, params.refine_steps)
    ridges = _dislocations(rng, ridges, orientation, period, mask, params)
    ridges[~grow_area] = 0.0
    for arr in (ridges, mask, orientation, period):
        arr.setflags(write=False)
    return MasterFingerprint(seed=seed, finger_class=finger_class, ridges=ridges, mask=mask,
                             orientation=orientation, period=period, cores=cores, deltas=deltas,
                             center=center, size=size, position=position, mean_period=mean)


@dataclass(frozen=True)
class FingerSpec:
    """What `synthetic_person` draws for one finger before growing its master."""

    position: int
    seed: int
    finger_class: str
    mean_period: float


def person_fingers(seed: int, params: MasterParams | None = None) -> list[FingerSpec]:
    """The ten finger specs of person `seed` (cheap: no ridge growth)."""
    ss = np.random.SeedSequence([int(seed) & (2 ** 63 - 1), 0x9E2501])
    rng = np.random.default_rng(ss)
    params = params or MasterParams()
    lo, hi = params.mean_period
    person_period = rng.uniform(lo + 0.2, hi - 0.2)
    specs = []
    for position in range(1, 11):
        probs = class_probabilities(position)
        names = list(probs)
        cls = names[int(rng.choice(len(names), p=np.array([probs[n] for n in names])))]
        finger_seed = int(rng.integers(0, 2 ** 62))
        period = person_period + (0.5 if position in (1, 6) else 0.0) + rng.normal(0, 0.2)
        specs.append(FingerSpec(position, finger_seed, cls, round(float(np.clip(period, lo, hi + 0.5)), 4)))
    return specs


def finger_master(spec: FingerSpec, params: MasterParams | None = None) -> MasterFingerprint:
    return master_fingerprint(spec.seed, spec.finger_class, params, position=spec.position,
                              mean_period=spec.mean_period)


def synthetic_person(seed: int, params: MasterParams | None = None) -> list[MasterFingerprint]:
    """Ten masters of one synthetic person, ISO/ANSI positions 1..10.

    1 right thumb, 2 right index, 3 right middle, 4 right ring, 5 right
    little, 6 left thumb ... 10 left little.  Classes follow
    `class_probabilities`; a person's fingers share a similar ridge period
    (thumbs a little coarser).  Deterministic for `seed`.
    """
    return [finger_master(spec, params) for spec in person_fingers(seed, params)]
