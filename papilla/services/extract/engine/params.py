"""Parameters of every extraction stage, with documented defaults.

All lengths are pixels at 500 dpi (the pipeline resamples first); a typical
adult ridge period at 500 dpi is 8-11 px.  Each stage takes its own frozen
dataclass so a stage can be run, tuned and dumped on its own; `ExtractionParams`
groups them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResolutionParams:
    target_dpi: int = 500          # everything downstream works at this resolution
    min_dpi: int = 250             # inputs outside min..max dpi are rejected
    max_dpi: int = 1500


@dataclass(frozen=True)
class SegmentationParams:
    """Foreground mask from local ridge contrast (gray-level std-dev within blocks)."""
    block: int = 8                 # mask decided per block x block cell
    std_sigma: float = 6.0         # window of the local standard deviation
    min_std: float = 5.0           # absolute contrast floor (gray levels): below is background
    rel_std: float = 0.25          # ... and relative to the 90th percentile of the image
    min_coherence: float = 0.0     # optional orientation-coherence floor per block
    close_blocks: int = 2          # morphological closing radius (blocks)
    open_blocks: int = 1           # opening radius (blocks), removes specks
    erode_px: int = 4              # final erosion of the pixel mask (border artifacts)
    keep_largest: bool = True      # keep the largest connected region only


@dataclass(frozen=True)
class OrientationParams:
    """Gradient structure tensor orientation with coherence."""
    gradient_sigma: float = 1.0    # pre-smoothing before Sobel gradients
    tensor_sigma: float = 5.0      # averaging window of the structure tensor
    field_sigma: float = 5.0       # extra smoothing of the doubled-angle field (0 = off)


@dataclass(frozen=True)
class FrequencyParams:
    """Ridge period per block from oriented x-signatures (Hong, Wan & Jain 1998)."""
    block: int = 16                # block step
    window_length: int = 32        # signature length across the ridges
    window_width: int = 12         # averaging width along the ridges
    min_period: float = 4.0        # plausible ridge period range at 500 dpi
    max_period: float = 16.0
    default_period: float = 9.0    # used when no block gives a valid estimate
    smooth_sigma: float = 1.5      # smoothing of the block period field (blocks)


@dataclass(frozen=True)
class EnhancementParams:
    """Contextual filtering: oriented Gaussian along ridges, Gabor across them."""
    normalize_sigma: float = 8.0   # local mean/std normalization window
    along_sigma: float = 3.5       # smoothing along the ridge (px); bridges small gaps
    across_sigma_ratio: float = 0.45   # Gabor envelope sigma across ridges / period
    across_cutoff: float = 2.0     # Gabor profile truncated at this many sigmas
    period_step: float = 0.25      # kernel table quantization of the period
    angle_bins: int = 1024         # orientation quantization of the filters' tap tables (0.18 deg steps; a tap
                                   # 15 px out is then off by at most 0.03 px)


@dataclass(frozen=True)
class BinarizationParams:
    """Ridge pixels are where the enhanced image is positive (ridges dark in input)."""
    threshold: float = 0.0
    min_blob_px: int = 12          # ridge fragments smaller than this are dropped
    fill_hole_px: int = 12         # valley specks (pores, wet-print specks) smaller than this are filled
                                   # (6 -> 12 px: FVC2002 B all-pairs EER 2.77 -> 2.68 % with spur_length 8)


@dataclass(frozen=True)
class MinutiaeParams:
    """Crossing-number detection and direction from traced ridges."""
    direction_trace: int = 10      # px traced along the ridge(s) to measure direction
    use_orientation_field: bool = True   # snap direction to the smoothed field if close
    snap_max_deg: float = 40.0


@dataclass(frozen=True)
class FilterParams:
    """False-minutia removal (lengths in px at 500 dpi)."""
    border_distance: float = 12.0  # minimum distance from the foreground border
    spur_length: int = 10          # ending joined to a bifurcation by a shorter ridge: spur. With lssr-6:
                                   # 12 -> 8 px, FVC2002 B EER 3.04 -> 2.77 % (6: 2.95, 10: 2.86, 16: 3.60 %);
                                   # with lssr-7 (papilla-x4): 8 / 10 / 12 px all 2.232 % mean, DB3 3.57 /
                                   # 3.21 / 3.57 % (one genuine pair: within noise; 10 keeps each DB <= 3.5)
    short_ridge_length: int = 16   # two endings joined by a shorter ridge: fragment
    bridge_length: int = 12        # two bifurcations joined by a shorter ridge: bridge/lake
    gap_distance: float = 14.0     # facing endings closer than this: broken ridge
    gap_angle_deg: float = 50.0    # tolerance for "facing" (opposite directions, aligned)
    cluster_radius: float = 9.0    # minutiae with >= cluster_count neighbours within radius
    cluster_count: int = 3
    duplicate_distance: float = 4.0   # two minutiae closer than this: both removed
    min_quality: int = 0           # local quality floor (0-100); 0 keeps all (the matcher weighs)
    max_minutiae: int = 150        # keep the best-quality ones beyond this


@dataclass(frozen=True)
class QualityParams:
    """Per-finger quality 0-100 from area, contrast, ridge clarity and minutiae count."""
    full_area_px: int = 50000      # foreground area (500 dpi px) counting as complete
    full_contrast: float = 30.0    # foreground gray-level std counting as full contrast
    full_minutiae: int = 25        # minutiae count counting as sufficient
    coherence_low: float = 0.25    # mean coherence mapped to 0 ...
    coherence_high: float = 0.65   # ... and to 1


@dataclass(frozen=True)
class ExtractionParams:
    resolution: ResolutionParams = field(default_factory=ResolutionParams)
    segmentation: SegmentationParams = field(default_factory=SegmentationParams)
    orientation: OrientationParams = field(default_factory=OrientationParams)
    frequency: FrequencyParams = field(default_factory=FrequencyParams)
    enhancement: EnhancementParams = field(default_factory=EnhancementParams)
    binarization: BinarizationParams = field(default_factory=BinarizationParams)
    minutiae: MinutiaeParams = field(default_factory=MinutiaeParams)
    filtering: FilterParams = field(default_factory=FilterParams)
    quality: QualityParams = field(default_factory=QualityParams)


@dataclass(frozen=True)
class UsabilityParams:
    """Centre-side usable-finger check (stage `usability`), measured in docs/usable-fingers.md.

    Areas are pixels at 500 dpi. On FVC2002 DB1-4_B (320 impressions) the
    smallest foreground is ~30,000 px, the fewest coherent pixels ~24,000, the
    lowest coherent fraction 0.46, the lowest valid-period fraction 0.76 and
    the fewest minutiae 10; every
    default sits below those with a margin, and above what blank, flat, noise,
    tiny and cropped images give.
    """
    min_foreground_px: int = 20000     # foreground (segmentation mask) area; a 120x120 crop has ~12,000
    coherence_floor: float = 0.3       # a foreground pixel shows ridge flow at or above this coherence
    min_coherent_px: int = 15000       # ... and at least this many do (white/gaussian noise: < 4,000)
    min_coherent_fraction: float = 0.35   # ... making up this fraction of the foreground (FVC min 0.46;
                                          # noise, whose "foreground" is the whole image: 0.02-0.31)
    min_period_valid: float = 0.6      # fraction of foreground frequency blocks with a valid ridge period
                                       # (FVC min 0.76; blob noise coarser than ridges: 0.49 and less)
    min_minutiae: int = 8              # per finger, after false-minutia removal (FVC min 10; 6-minutia
                                       # synthetic impressions score high against everyone)
    min_total_minutiae: int = 8        # per enrollment / per probe request, summed over usable fingers: one
                                       # usable finger must suffice (Rules 406 p.10 collects any printable finger)
