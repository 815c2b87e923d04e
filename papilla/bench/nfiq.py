"""Quality bench: the project's per-finger quality (0-100) beside NIST NFIQ 2 (0-100, through nbis-py) on the
same images, per database: means, the rank correlation, and how many fingers each puts in its lowest band.
"""
from __future__ import annotations

# lazy imports: nbis (NFIQ 2) and tqdm are imported by the benchmark that uses them, so the other benchmarks
# do not need them installed.

from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from . import data

LOW_BAND = 20   # NFIQ 2 below ~20 is "low" in practice; the project's station gate is 20 too


def nfiq2_scores(db: data.Database, progress: bool = True) -> np.ndarray:
    """NFIQ 2 score of each impression of `db` (image resampled to 500 dpi, as the extractor sees it)."""
    import nbis
    from tqdm import tqdm

    settings = nbis.NbisExtractorSettings(min_quality=0.0, get_center=False, check_fingerprint=False,
                                          compute_nfiq2=True, ppi=None)
    ex = nbis.new_nbis_extractor(settings)
    out = []
    for imp in tqdm(db.impressions, desc=f"nfiq2 {db.name}", disable=not progress, leave=False):
        px = data._resample_to_500(data._load_gray(imp.path), db.dpi)
        try:
            out.append(ex.extract_minutiae(data._png_bytes(px)).quality().score)
        except nbis.NbisError:   # NFIQ 2 refuses some images (e.g. too small for its blocks): counted apart
            out.append(np.nan)
    return np.asarray(out, np.float64)


def run(data_dir: Path, progress: bool = True) -> dict:
    rows = []
    for db in data.discover(data_dir):
        ours = np.array([t.quality for t in data.templates_for(db, progress=progress)], np.float64)
        nfiq = nfiq2_scores(db, progress)
        ok = ~np.isnan(nfiq)
        rho = spearmanr(ours[ok], nfiq[ok]).statistic if ok.sum() > 2 else float("nan")
        rows.append({"database": db.name, "fingers": len(ours), "nfiq2_failed": int((~ok).sum()),
                     "papilla_mean": float(ours.mean()), "nfiq2_mean": float(nfiq[ok].mean()) if ok.any() else None,
                     "spearman": float(rho), "papilla_below_20": int((ours < LOW_BAND).sum()),
                     "nfiq2_below_20": int((nfiq[ok] < LOW_BAND).sum())})
    return {"rows": rows, "low_band": LOW_BAND}


def format_table(res: dict) -> str:
    lines = ["finger quality: papilla (0-100) beside NFIQ 2 (nbis-py), same images at 500 dpi",
             f"  {'database':<9} {'fingers':>7} {'papilla':>8} {'NFIQ2':>6} {'spearman':>8} "
             f"{'papilla<20':>10} {'NFIQ2<20':>8} {'NFIQ2 failed':>12}"]
    for r in res["rows"]:
        lines.append(f"  {r['database']:<9} {r['fingers']:>7} {r['papilla_mean']:8.1f} {r['nfiq2_mean'] or 0:6.1f} "
                     f"{r['spearman']:8.2f} {r['papilla_below_20']:>10} {r['nfiq2_below_20']:>8} {r['nfiq2_failed']:>12}")
    return "\n".join(lines)
