"""The engine's declared entry point for a finger's quality score (0-100), for the station's gate.

The station measures quality with this function and nothing else of the extractor, so capture
depends on one name here, not on the extraction pipeline's internals (.importlinter holds it).
"""
from __future__ import annotations

from papilla.shared.formats.images import decode_image


def finger_quality(png: bytes, dpi: int) -> int:
    """Quality of one captured finger image (PNG or any format `decode_image` reads) at `dpi`."""
    # lazy: the engine loads numba and JIT-compiles; every `papilla` command imports the station module to
    # build its parser, and units such as papilla-audit-verify run with MemoryDenyWriteExecute (no JIT)
    from papilla.services.extract.engine import extract

    return int(extract(decode_image(png).pixels, dpi=dpi).quality)
