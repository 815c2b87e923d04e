"""Minutiae extraction engine.

Pure stages (each with a parameters dataclass in `params`):

  resolution   -> 500 dpi 8-bit image               resolution.normalize_resolution
  segmentation -> foreground mask                   segmentation.segment
  orientation  -> ridge orientation + coherence     orientation.orientation_field
  frequency    -> ridge period (px)                 frequency.ridge_period
  enhancement  -> contextual Gabor filtering        enhancement.enhance
  binarization -> ridge pixels, thinning            thinning.binarize / thinning.thin
  minutiae     -> crossing number + ridge tracing   minutiae.detect / minutiae.trace_all
  filtering    -> false-minutia removal             filtering.filter_minutiae
  quality      -> minutia and finger quality        quality.local_quality / finger_quality
  usability    -> usable finger? (centre check)      usability.assess / check_set

`extract()` returns a `FingerTemplate`; `extract_with_intermediates()` also
returns every intermediate so it can be dumped and drawn (`papilla inspect`).
"""
from __future__ import annotations

from . import kernel_cache  # noqa: F401  (first: the kernels' numba cache is keyed on the whole package)
from .params import (BinarizationParams, EnhancementParams, ExtractionParams, FilterParams,
                     FrequencyParams, MinutiaeParams, OrientationParams, QualityParams,
                     ResolutionParams, SegmentationParams, UsabilityParams)
from .pipeline import EXTRACTOR_VERSION, Intermediates, extract, extract_with_intermediates, warm_up

__all__ = [
    "EXTRACTOR_VERSION", "extract", "extract_with_intermediates", "warm_up", "Intermediates", "ExtractionParams",
    "ResolutionParams", "SegmentationParams", "OrientationParams", "FrequencyParams",
    "EnhancementParams", "BinarizationParams", "MinutiaeParams", "FilterParams", "QualityParams",
    "UsabilityParams",
]
