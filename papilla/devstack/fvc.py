"""FVC images as a station's scanner."""
from __future__ import annotations

from pathlib import Path

from papilla.services.capture.devices import CapturedImage, FolderScanner


class FvcScanner(FolderScanner):
    """A scanner that 'captures' FVC images: finger position → `<finger>_<impression>` in one database."""

    def __init__(self, db_dir: Path, mapping: dict[int, str], dpi: int = 500):
        super().__init__(db_dir, {p: f"{name}.tif" for p, name in mapping.items()}, dpi=dpi)

    def images(self) -> dict[int, CapturedImage]:
        return {p: self.capture(p) for p in self.mapping}


def statuses(captured: set[int]) -> dict[int, str]:
    """Finger status of `Station.enroll`: the `captured` positions, the others amputated."""
    return {p: ("captured" if p in captured else "amputated") for p in range(1, 11)}
