"""Parameters of the synthetic fingerprint generator, with documented defaults.

All lengths are pixels at 500 dpi (1 px = 50.8 um), angles are degrees unless
the name says otherwise.  The dataclasses are frozen (hashable) so masters can
be cached by ``(seed, finger_class, params)``.
"""
from __future__ import annotations

from dataclasses import dataclass

FINGER_CLASSES = ("arch", "tented_arch", "left_loop", "right_loop", "whorl")

DPI = 500


@dataclass(frozen=True)
class MasterParams:
    """How a master fingerprint (the whole finger pad, ridge pattern only) is made."""

    canvas_width: int = 400          # master canvas, px; the finger shape sits inside it
    canvas_height: int = 480
    # finger silhouette (SFinGe style: two half ellipses joined by a straight band)
    half_width: tuple[float, float] = (128.0, 158.0)      # a: half width range
    top_height: tuple[float, float] = (150.0, 185.0)      # b1: upper half ellipse
    bottom_height: tuple[float, float] = (110.0, 150.0)   # b2: lower half ellipse
    band_height: tuple[float, float] = (40.0, 90.0)       # straight part between them
    # ridge period (px per ridge at 500 dpi; FVC 500 dpi fingers are ~8.5-10.5)
    mean_period: tuple[float, float] = (8.3, 10.0)
    period_variation: float = 1.6    # amplitude of the smooth random period field
    period_tip_increase: float = 0.8 # extra period towards the finger tip / far field
    # orientation model (zero-pole, Sherlock-Monro, with Vizcaya-Gerhardt style
    # random monotone corrections of the pole angles)
    pattern_tilt: float = 10.0       # std of the pattern's tilt, degrees
    pole_correction: float = 0.32    # amplitude of the random angle correction (< 1/3 stays monotone)
    # 0 = pure zero-pole field, whose ridges fan out along a loop's legs and a
    # delta's legs and force the same rosettes of minutiae on every finger of a
    # class; 1 = nested hairpins at cores and near triangles at deltas, as on
    # real fingers (see master._parallel_poles)
    pole_parallelism: float = 1.0
    # two nearly coincident cores make concentric rings, which look alike under
    # any rotation and made whorls match each other far too often; real
    # whorls are mostly elongated (px between the two cores)
    whorl_core_separation: tuple[float, float] = (15.0, 70.0)
    orientation_noise: float = 8.0   # std of smooth random orientation perturbation, degrees
    arch_orientation_noise: float = 8.0
    # ridge growth (iterative contextual Gabor filtering).  seed_density 0 grows
    # the whole pad from one seed at the core (pad centre for arches), so there
    # are no seams where growth fronts meet out of phase (their minutiae lie in
    # regular rows that different fingers share); > 0 places that many random
    # seeds per px of pad, plus one wherever the pad is more than seed_reach px
    # from a seed (arches: times arch_seed_factor).
    seed_density: float = 0.0
    seed_reach: float = 90.0
    arch_seed_factor: float = 2.0
    # each pixel is filtered for refine_steps steps after the growth front reached
    # it, then kept, so the whole pad is filled and equally smooth however far it
    # lies from the seed; iterations bounds the steps (0 refine_steps: filter
    # every pixel at every one of `iterations` steps)
    iterations: int = 70
    refine_steps: int = 8
    gain: float = 3.0                # saturation gain after each filtering step
    sigma_across: float = 0.42       # Gabor sigma across the ridges, in periods
    sigma_along: float = 0.5        # Gabor sigma along the ridges, in periods
    # phase dislocations added after growth: pairs of opposite point defects of
    # the ridge phase (a minutia is a phase singularity), placed at random, so
    # minutiae layouts differ between masters as much as real ones do.  Each
    # master draws its own density: mean pairs * uniform(*dislocation_spread).
    dislocation_pairs: float = 35.0
    dislocation_spread: tuple[float, float] = (0.5, 1.5)
    dislocation_length: tuple[float, float] = (6.0, 40.0)   # px between the two defects


@dataclass(frozen=True)
class ImpressionParams:
    """How one impression (a plain 500 dpi capture) is made from a master.

    Defaults aim at an FVC2002-like difficulty: displacement and rotation of
    plain captures, elastic skin distortion at the border of the contact
    area, pressure and moisture varying across the finger, sensor noise.
    """

    width: int = 320                 # output image, px (500 dpi)
    height: int = 400
    # placement
    max_translation: float = 45.0    # px, uniform in a disc, of the contact centre
    max_rotation: float = 25.0       # degrees, uniform
    # contact (partial contact and pressure)
    contact_scale: tuple[float, float] = (0.76, 1.05)   # contact ellipse vs finger size
    contact_offset: float = 40.0     # px, contact centre vs finger centre (rolling, lifting)
    # elastic distortion (Cappelli, Maio, Maltoni 2001: undistorted close-contact
    # region, transition band, displaced outer region) plus a small random field
    distortion: float = 1.0          # 0 disables all non-rigid distortion
    max_skin_shift: float = 16.0     # px, displacement of the outer region
    max_skin_rotation: float = 4.0   # degrees, rotation of the outer region
    inner_radius: tuple[float, float] = (40.0, 80.0)
    transition: tuple[float, float] = (90.0, 150.0)
    random_warp: float = 2.5         # px, amplitude of the smooth random displacement
    # ridge appearance
    pressure: tuple[float, float] = (-0.3, 0.2)  # <0 dry/light (thin ridges), >0 wet/heavy
    pressure_variation: float = 0.2 # local variation of pressure
    dryness: tuple[float, float] = (0.0, 0.48)     # fraction of ridge breaks (0 = none)
    # wet finger (sweat, oily skin): moisture held between the ridges takes ink across the valleys
    # (impression._wet): `wetness` is the share of valley filled where the moisture is (0 = dry valleys;
    # 0.5 = valleys half as light as the background, neighbouring ridges start to merge), varying over the
    # finger; `wet_spread` the px sigma of the lateral spread of moisture from a ridge (a 500 dpi valley is
    # ~4-5 px wide, so 1.5-2.5 px bridges it); `wet_blobs` the number of saturated sweat drops, each of
    # radius `wet_blob_radius` px, inside the contact.  Defaults: none (a nominal capture)
    wetness: tuple[float, float] = (0.0, 0.0)
    wet_spread: float = 2.0
    wet_blobs: tuple[int, int] = (0, 0)
    wet_blob_radius: tuple[float, float] = (6.0, 16.0)
    contrast: tuple[float, float] = (110.0, 170.0) # grey levels between valley and ridge
    background: tuple[float, float] = (165.0, 215.0)
    noise: tuple[float, float] = (3.0, 9.0)        # std of sensor noise, grey levels
    blur: tuple[float, float] = (0.55, 0.95)       # Gaussian blur sigma, px
    spots: tuple[int, int] = (0, 6)                # dirt spots on the platen
