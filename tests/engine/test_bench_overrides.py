"""`papilla bench accuracy --set stage.field=value`: measure an extraction parameter change before making it."""
from __future__ import annotations

import pytest

from papilla.bench import data
from papilla.shared.config import ConfigError


def test_set_changes_the_named_field_only_and_keys_the_template_cache(monkeypatch):
    p = data.extraction_params("filtering.spur_length=10; binarization.fill_hole_px=3")
    assert p.filtering.spur_length == 10 and p.binarization.fill_hole_px == 3
    assert p.filtering.bridge_length == data.extraction_params("").filtering.bridge_length
    monkeypatch.delenv(data.PARAMS_ENV, raising=False)
    default_tag = data.extractor_tag("papilla")
    monkeypatch.setenv(data.PARAMS_ENV, "filtering.spur_length=10")
    assert data.extractor_tag("papilla") != default_tag   # cached default templates are not reused


@pytest.mark.parametrize("spec, message", [
    ("filtering.spurs=3", "--set takes stage.field=value with a field of ExtractionParams (got 'filtering.spurs=3')"),
    ("filtering.spur_length=abc", "--set filtering.spur_length takes a whole number (got 'abc')"),
])
def test_set_mistakes_are_one_sentence(spec, message, capsys, monkeypatch):
    monkeypatch.setenv(data.PARAMS_ENV, "")   # the command sets it for its extraction processes: restored after
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data.extraction_params(spec)
    from papilla.cli import main
    assert main(["bench", "accuracy", "--set", spec, "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == f"papilla: {message}"


def test_set_is_refused_with_record(capsys, monkeypatch):
    monkeypatch.setenv(data.PARAMS_ENV, "")
    from papilla.cli import main
    assert main(["bench", "accuracy", "--record", "--set", "filtering.spur_length=10", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == "--record measures the default extraction: drop --set"
