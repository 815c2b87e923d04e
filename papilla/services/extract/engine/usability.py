"""Stage 9: is this a usable finger? (ridge structure and minutiae, after extraction)

A pure check over the extraction's intermediates, so it costs nothing extra:

- foreground: the segmentation mask covers enough of a finger;
- ridge flow: enough foreground pixels, and a large enough share of them,
  have coherent orientation (parallel ridges: structure-tensor coherence at
  or above a floor); noise is all "foreground" but mostly incoherent;
- ridge frequency: enough foreground frequency blocks gave a plausible ridge
  period (two or more clear ridges, period 4-16 px at 500 dpi);
- minutiae: enough minutiae survived false-minutia removal.

Blank, flat, noisy, tiny or scrambled images fail one of these; every
FVC2002 B impression passes (measurements and how the defaults were chosen:
docs/usable-fingers.md). The matcher also needs minutiae in numbers: with a
handful, MCC's n_P falls to 4 and one finger scores high against many
others, so the minimum count is also a matcher safeguard.

A set of fingers (an enrollment, or the probe fingers of a request) must
also hold enough minutiae in total (`check_set`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .params import FrequencyParams, UsabilityParams

NO_FOREGROUND = "no_foreground"
NO_RIDGE_FLOW = "no_ridge_flow"
NO_RIDGE_FREQUENCY = "no_ridge_frequency"
TOO_FEW_MINUTIAE = "too_few_minutiae"

REASON_TEXT = {
    NO_FOREGROUND: "too little finger area",
    NO_RIDGE_FLOW: "no coherent ridge flow",
    NO_RIDGE_FREQUENCY: "no valid ridge frequency",
    TOO_FEW_MINUTIAE: "too few minutiae",
}


@dataclass(frozen=True)
class Usability:
    """Measured ridge structure of one finger and the reasons it is unusable (empty = usable)."""
    foreground_px: int
    coherent_px: int
    period_valid: float      # fraction of foreground frequency blocks with a valid period
    minutiae: int
    reasons: tuple[str, ...]

    @property
    def usable(self) -> bool:
        return not self.reasons

    def describe(self) -> str:
        """The reasons in words, without any measured value (measurements are biometric data)."""
        return "; ".join(REASON_TEXT[r] for r in self.reasons) or "usable"


def period_valid_fraction(period_blocks: np.ndarray, mask: np.ndarray, block: int) -> float:
    """Fraction of the frequency blocks whose centre is foreground that have a period estimate."""
    if period_blocks.size == 0 or not mask.any():
        return 0.0
    h, w = mask.shape
    cy = np.minimum(np.arange(period_blocks.shape[0]) * block + block // 2, h - 1)
    cx = np.minimum(np.arange(period_blocks.shape[1]) * block + block // 2, w - 1)
    fg = mask[np.ix_(cy, cx)]
    n = int(fg.sum())
    return float((period_blocks[fg] > 0).sum() / n) if n else 0.0


def measure(mask: np.ndarray, coherence: np.ndarray, period_blocks: np.ndarray, n_minutiae: int,
            params: UsabilityParams = UsabilityParams(),
            frequency: FrequencyParams = FrequencyParams()) -> Usability:
    """Usability of one finger from its mask, coherence, block periods and minutiae count."""
    fg = int(mask.sum())
    coherent = int((mask & (coherence >= params.coherence_floor)).sum()) if fg else 0
    pv = period_valid_fraction(period_blocks, mask, frequency.block)
    reasons = []
    if fg < params.min_foreground_px:
        reasons.append(NO_FOREGROUND)
    if coherent < params.min_coherent_px or coherent < params.min_coherent_fraction * fg:
        reasons.append(NO_RIDGE_FLOW)
    if pv < params.min_period_valid:
        reasons.append(NO_RIDGE_FREQUENCY)
    if n_minutiae < params.min_minutiae:
        reasons.append(TOO_FEW_MINUTIAE)
    return Usability(fg, coherent, pv, int(n_minutiae), tuple(reasons))


def assess(inter, params: UsabilityParams = UsabilityParams(),
           frequency: FrequencyParams = FrequencyParams()) -> Usability:
    """Usability of one finger from the pipeline's `Intermediates`."""
    return measure(inter.mask, inter.coherence, inter.period_blocks, len(inter.minutiae), params, frequency)


def check_set(minutiae_per_finger: Mapping[int, int], params: UsabilityParams = UsabilityParams()) -> bool:
    """Whether a set of usable fingers (position -> minutiae count) holds enough minutiae in total."""
    return sum(minutiae_per_finger.values()) >= params.min_total_minutiae
