"""FVC-layout databases, pluggable extractors and a template cache outside the repository."""
from __future__ import annotations

# lazy imports: optional extractors (NBIS), plotting and the heavy engines are imported by the benchmark that
# uses them, so one benchmark does not pay for (or need installed) what another uses.

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from papilla.shared.config import ConfigError
from papilla.shared.template import MINUTIA_DTYPE, FingerTemplate

_NAME = re.compile(r"^(\d+)_(\d+)\.(tif|tiff|bmp|png|jpg|jpeg|wsq)$", re.I)


@dataclass(frozen=True)
class Impression:
    path: Path
    finger: int
    impression: int


@dataclass(frozen=True)
class Database:
    name: str
    path: Path
    dpi: int
    impressions: list[Impression]  # sorted by (finger, impression)


def _dpi_for(db: Path) -> int:
    for f in (db / "dpi.json", db.parent / "dpi.json"):
        if f.is_file():
            data = json.loads(f.read_text())
            if isinstance(data, dict):
                if db.name in data:
                    return int(data[db.name])
                if "dpi" in data:
                    return int(data["dpi"])
            elif isinstance(data, (int, float)):
                return int(data)
    return 500


def _scan(db: Path) -> list[Impression]:
    out = []
    for p in db.iterdir():
        m = _NAME.match(p.name)
        if m:
            out.append(Impression(p, int(m.group(1)), int(m.group(2))))
    out.sort(key=lambda i: (i.finger, i.impression))
    return out


def discover(data: Path | str, limit_fingers: int | None = None) -> list[Database]:
    """One FVC database folder, or a folder of them (each with images `<finger>_<impression>.ext`)."""
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"no such data folder: {data}")
    dbs = []
    folders = [data] if _scan(data) else sorted(p for p in data.iterdir() if p.is_dir() and _scan(p))
    for f in folders:
        imps = _scan(f)
        if limit_fingers:
            keep = sorted({i.finger for i in imps})[:limit_fingers]
            imps = [i for i in imps if i.finger in keep]
        dbs.append(Database(f.name, f, _dpi_for(f), imps))
    if not dbs:
        raise FileNotFoundError(f"no FVC-layout images (<finger>_<impression>.tif) under {data}")
    return dbs


# --- extractors ------------------------------------------------------------------------

def _resample_to_500(pixels: np.ndarray, dpi: int) -> np.ndarray:
    if dpi == 500:
        return pixels
    from PIL import Image
    h, w = pixels.shape
    s = 500.0 / dpi
    return np.asarray(Image.fromarray(pixels).resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC))


def _load_gray(path: Path) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(path).convert("L"))


_nbis = None


def nbis_extractor():
    global _nbis
    if _nbis is None:
        import nbis
        settings = nbis.NbisExtractorSettings(min_quality=0.0, get_center=False, check_fingerprint=False,
                                              compute_nfiq2=False, ppi=None)
        _nbis = nbis.new_nbis_extractor(settings)
    return _nbis


def _png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def nbis_minutiae(path: Path, dpi: int):
    """NBIS mindtct minutiae (an nbis.Minutiae) of the image resampled to 500 dpi."""
    px = _resample_to_500(_load_gray(path), dpi)
    return nbis_extractor().extract_minutiae(_png_bytes(px)), px.shape


def extract_nbis(path: Path, dpi: int) -> FingerTemplate:
    mins, (h, w) = nbis_minutiae(path, dpi)
    lst = mins.get()
    arr = np.zeros(len(lst), MINUTIA_DTYPE)
    for k, m in enumerate(lst):
        arr[k] = (m.x(), m.y(), np.deg2rad(m.angle()) % (2 * np.pi),
                  2 if "BIFURCATION" in str(m.kind()) else 1, int(round(100 * m.reliability())))
    return FingerTemplate(width=w, height=h, minutiae=arr, quality=0, dpi=500)


#: Extraction parameter overrides for the benches (`--set stage.field=value;...`; empty: the defaults).
PARAMS_ENV = "PAPILLA_BENCH_EXTRACT_PARAMS"


def extraction_params(spec: str | None = None):
    """ExtractionParams with the overrides of `spec` ("stage.field=value", ";"-separated; default: the
    PARAMS_ENV variable, so extraction processes of the bench see the same)."""
    import dataclasses
    from papilla.services.extract.engine import ExtractionParams
    spec = os.environ.get(PARAMS_ENV, "") if spec is None else spec
    p = ExtractionParams()
    for part in filter(None, (x.strip() for x in spec.split(";"))):
        stage, _, rest = part.partition(".")
        field, eq, value = rest.partition("=")
        sub = getattr(p, stage, None)
        if not eq or not dataclasses.is_dataclass(sub) or field not in {f.name for f in dataclasses.fields(sub)}:
            raise ConfigError(f"--set takes stage.field=value with a field of ExtractionParams (got {part!r})")
        kind = type(getattr(sub, field))
        try:
            val = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
        except ValueError:
            noun = {int: "whole number", float: "number"}.get(kind, kind.__name__)
            raise ConfigError(f"--set {stage}.{field} takes a {noun} (got {value!r})") from None
        p = dataclasses.replace(p, **{stage: dataclasses.replace(sub, **{field: val})})
    return p


def extract_papilla(path: Path, dpi: int) -> FingerTemplate:
    from papilla.services.extract.engine import extract
    try:
        from papilla.shared.formats.images import load_image
        img = load_image(path)
        pixels, img_dpi = img.pixels, (img.dpi or dpi)
        if img_dpi in (None, 0, 72, 96):  # files often carry no or a screen resolution
            img_dpi = dpi
        if dpi != 500:
            img_dpi = dpi  # dpi.json is authoritative for the reference sets
    except ImportError:
        pixels, img_dpi = _load_gray(path), dpi
    return extract(pixels, img_dpi, extraction_params())


EXTRACTORS: dict[str, Callable[[Path, int], FingerTemplate]] = {"papilla": extract_papilla, "nbis": extract_nbis}


def extractor_version(name: str) -> str:
    """The declared version of an extractor (papilla: EXTRACTOR_VERSION; others: their name)."""
    if name == "papilla":
        from papilla.services.extract.engine import EXTRACTOR_VERSION
        return EXTRACTOR_VERSION
    return name


def extractor_tag(name: str) -> str:
    """Cache key part that changes when the extractor's code changes."""
    if name == "papilla":
        try:
            import papilla.services.extract.engine as eng
            v = getattr(eng, "ENGINE_VERSION", None) or getattr(eng, "EXTRACTOR_VERSION", None)
            root = Path(eng.__file__).parent
            h = hashlib.sha1()
            for f in sorted(root.rglob("*.py")):
                h.update(f.read_bytes())
            h.update(os.environ.get(PARAMS_ENV, "").encode())
            return f"papilla-{v}-{h.hexdigest()[:10]}"
        except ImportError:
            return "papilla-missing"
    return name


def bench_jobs() -> int:
    """Extraction processes for the benches (`PAPILLA_BENCH_JOBS`, default 1)."""
    raw = os.environ.get("PAPILLA_BENCH_JOBS", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"PAPILLA_BENCH_JOBS must be a whole number of processes, at least 1 (got {raw!r})")
    return int(raw)


def cache_dir() -> Path:
    return Path(os.environ.get("PAPILLA_BENCH_CACHE", "/tmp/papilla-cache"))


def _save_templates(path: Path, temps: list[FingerTemplate]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lens = np.array([len(t.minutiae) for t in temps], np.int64)
    meta = np.array([[t.width, t.height, t.quality, t.dpi] for t in temps], np.int64).reshape(-1, 4)
    allm = np.concatenate([t.minutiae for t in temps]) if temps else np.zeros(0, MINUTIA_DTYPE)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, lens=lens, meta=meta, minutiae=allm)
    os.replace(tmp, path)


def _load_templates(path: Path) -> list[FingerTemplate]:
    z = np.load(path)
    out, off = [], 0
    for n, (w, h, q, d) in zip(z["lens"], z["meta"]):
        out.append(FingerTemplate(int(w), int(h), z["minutiae"][off:off + n].copy(), int(q), int(d)))
        off += n
    return out


def templates_for(db: Database, extractor: str = "papilla", progress: bool = True,
                  use_cache: bool = True) -> list[FingerTemplate]:
    """Templates of every impression of `db` (same order), extracted once and cached by content."""
    fn = EXTRACTORS[extractor]
    key = hashlib.sha1("|".join(f"{i.path.resolve()}:{i.path.stat().st_mtime_ns}" for i in db.impressions).encode())
    key.update(str(db.dpi).encode())
    cfile = cache_dir() / extractor_tag(extractor) / f"{db.name}-{key.hexdigest()[:12]}.npz"
    if use_cache and cfile.is_file():
        return _load_templates(cfile)
    from tqdm import tqdm
    jobs = bench_jobs()
    bar = dict(desc=f"extract {db.name} ({extractor}, {jobs} process{'es' if jobs > 1 else ''})",
               total=len(db.impressions), disable=not progress, leave=False)
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(jobs) as pool:
            temps = list(tqdm(pool.map(fn, [i.path for i in db.impressions], [db.dpi] * len(db.impressions),
                                       chunksize=16), **bar))
    else:
        temps = [fn(i.path, db.dpi) for i in tqdm(db.impressions, **bar)]
    if use_cache:
        _save_templates(cfile, temps)
    return temps
