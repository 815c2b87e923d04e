"""Versions that keep a changed engine from running with stale parts: the extractor's version with every
template and in the matcher's calibration, and numba caches keyed on the whole extraction package."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from papilla.bench import record
from papilla.services.extract import engine as extract_engine
from papilla.services.extract.engine import EXTRACTOR_VERSION, extract, kernel_cache
from papilla.services.match import engine
from papilla.shared.formats.images import load_image
from papilla.shared.template import FingerTemplate, template_from_bytes, template_to_bytes


def test_templates_carry_the_extractor_version(data_dir):
    t = extract(load_image(data_dir / "samples" / "probe.png").pixels)
    assert t.extractor == EXTRACTOR_VERSION
    back = template_from_bytes(template_to_bytes(t))
    assert back.extractor == EXTRACTOR_VERSION and np.array_equal(back.minutiae, t.minutiae)
    # records written before the version was stored still read, as of an unknown extractor
    old = template_to_bytes(FingerTemplate(t.width, t.height, t.minutiae, t.quality, t.dpi))
    assert template_from_bytes(old).extractor == "" and len(old) < len(template_to_bytes(t))
    with pytest.raises(ValueError, match="bytes, expected"):
        template_from_bytes(template_to_bytes(t)[:-1])


def test_calibration_and_accuracy_record_are_of_this_extractor_and_matcher():
    cal = engine.calibration()
    assert (cal["engine_version"], cal["extractor_version"]) == (engine.ENGINE_VERSION, EXTRACTOR_VERSION), (
        "recalibrate: papilla bench calibrate")
    rec = record.load_record()
    assert (rec["engine_version"], rec["extractor_version"]) == (engine.ENGINE_VERSION, EXTRACTOR_VERSION), (
        "re-record: papilla bench accuracy --record")


def _cached_kernels():
    for name in ("enhancement", "filters", "frequency", "minutiae", "orientation", "thinning", "segmentation"):
        module = getattr(__import__(f"papilla.services.extract.engine.{name}", fromlist=["x"]), "__dict__")
        for obj in module.values():
            if getattr(obj, "_cache", None) is not None and inspect.getmodule(obj.py_func).__name__.endswith(name):
                yield name, obj


def test_every_cached_extraction_kernel_is_stamped_with_the_whole_package():
    kernels = list(_cached_kernels())
    assert len(kernels) >= 15
    for name, k in kernels:
        locator = getattr(k._cache, "_impl", None)._locator
        assert isinstance(locator, kernel_cache.PackageStampLocator), f"{name}.{k.py_func.__name__}"
        assert locator.get_source_stamp() == kernel_cache.package_stamp()
    assert kernel_cache.PACKAGE_DIR == __import__("pathlib").Path(extract_engine.__file__).resolve().parent


def test_the_stamp_changes_with_any_file_of_the_package(tmp_path):
    (tmp_path / "a.py").write_text("X = 1\n")
    (tmp_path / "b.py").write_text("def f(): return 1\n")
    before = kernel_cache.package_stamp.__wrapped__(tmp_path)
    (tmp_path / "a.py").write_text("X = 2\n")        # a constant another module compiles in
    assert kernel_cache.package_stamp.__wrapped__(tmp_path) != before
