"""Verification error rates from genuine and impostor score sets (higher score = more similar)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta


@dataclass(frozen=True)
class Rates:
    eer: float
    fmr100: float     # lowest FNMR with FMR <= 1%
    fmr1000: float    # lowest FNMR with FMR <= 0.1%
    zero_fmr: float   # lowest FNMR with FMR = 0

    def as_dict(self) -> dict:
        return {"eer": self.eer, "fmr100": self.fmr100, "fmr1000": self.fmr1000, "zero_fmr": self.zero_fmr}


def det_points(genuine, impostor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, FMR, FNMR) for every distinct threshold; decision: match iff score >= t."""
    g = np.sort(np.asarray(genuine, np.float64))
    i = np.sort(np.asarray(impostor, np.float64))
    t = np.unique(np.concatenate([g, i, [np.inf]]))
    fmr = 1.0 - np.searchsorted(i, t, side="left") / max(len(i), 1)
    fnmr = np.searchsorted(g, t, side="left") / max(len(g), 1)
    return t, fmr, fnmr


def eer(genuine, impostor) -> float:
    """Equal error rate, FVC style: where FMR(t) and FNMR(t) cross (midpoint of the crossing step)."""
    _, fmr, fnmr = det_points(genuine, impostor)
    # fmr decreases, fnmr increases with t; find first index where fnmr >= fmr
    k = int(np.argmax(fnmr >= fmr))
    if k == 0:
        return float((fmr[0] + fnmr[0]) / 2)
    a1, b1 = fmr[k - 1], fnmr[k - 1]   # fmr > fnmr here
    a2, b2 = fmr[k], fnmr[k]           # fnmr >= fmr here
    if (a1 - b1) + (b2 - a2) > 0:
        # linear interpolation of the crossing between the two operating points
        w = (a1 - b1) / ((a1 - b1) + (b2 - a2))
        return float(a1 + w * (a2 - a1))
    return float((a2 + b2) / 2)


def fnmr_at_fmr(genuine, impostor, target: float) -> float:
    _, fmr, fnmr = det_points(genuine, impostor)
    ok = fmr <= target + 1e-12
    return float(fnmr[ok].min()) if ok.any() else 1.0


def rates(genuine, impostor) -> Rates:
    return Rates(eer=eer(genuine, impostor), fmr100=fnmr_at_fmr(genuine, impostor, 0.01),
                 fmr1000=fnmr_at_fmr(genuine, impostor, 0.001), zero_fmr=fnmr_at_fmr(genuine, impostor, 0.0))


def lower_bound(hits: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower confidence bound of a rate from `hits` of `n`."""
    return float(beta.ppf(1 - confidence, hits, n - hits + 1)) if hits else 0.0
