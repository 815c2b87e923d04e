"""numba's on-disk cache for the extraction kernels, invalidated by a change to any file of this package.

numba keys a cached kernel on its own source file only. A kernel that inlines a function of another module
(`orientation._cos_sin_grid` calls `filters.upsample`) or compiles in another module's constants (`minutiae`
uses `thinning.RING_DX`) would keep running the old code from the cache after that other file changes. Here
every cached kernel of this package gets a source stamp over all of the package's files, so any change
recompiles them all (a few seconds, once). Import this module before any kernel module (the package's
`__init__` does).
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from numba.core import caching

PACKAGE_DIR = Path(__file__).resolve().parent
# numba 0.60 names these _CacheImpl / _CacheLocator; later versions drop the underscore of the first
_IMPL = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
_LOCATOR = getattr(caching, "_CacheLocator", None) or getattr(caching, "CacheLocator")


@lru_cache(maxsize=None)
def package_stamp(directory: Path = PACKAGE_DIR) -> str:
    """sha256 over the names and contents of the directory's .py files (sorted)."""
    h = hashlib.sha256()
    for f in sorted(Path(directory).glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


class PackageStampLocator(_LOCATOR):
    """numba's usual cache location for a kernel of this package, with the package's stamp as its source
    stamp (a cached kernel is loaded only if no file of the package changed since it was written)."""

    def __init__(self, inner: _LOCATOR):
        self._inner = inner

    def ensure_cache_path(self):
        return self._inner.ensure_cache_path()

    def get_cache_path(self):
        return self._inner.get_cache_path()

    def get_source_stamp(self):
        return package_stamp()

    def get_disambiguator(self):
        return self._inner.get_disambiguator()

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != PACKAGE_DIR:
            return None
        for other in _STANDARD:
            inner = other.from_function(py_func, py_file)
            if inner is not None:
                return cls(inner)
        return None


_STANDARD = [c for c in _IMPL._locator_classes if c is not PackageStampLocator]
if PackageStampLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes.insert(0, PackageStampLocator)
