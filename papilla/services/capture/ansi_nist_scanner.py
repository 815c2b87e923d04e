"""A station's captures read from an ANSI/NIST-ITL transaction file (`papilla station enroll --ansi-nist FILE`).

A person printed elsewhere (a police ten-print card, a border system) arrives at the branch as a transaction:
each finger image of it (Type-4 or Type-14) is one capture at the resolution the record states, and the
amputated or unprintable fingers it declares (2.084 / 14.018) are the statuses of the fingers it has no image
of. The station then runs its usual workflow: eligibility, consent, quality gate, seal.
"""
from __future__ import annotations

from pathlib import Path

from papilla.shared.formats.ansi_nist import AnsiNistError, read_transaction
from papilla.shared.formats.ansi_nist_papilla import pixels_of

from .devices import CapturedImage, NoImageForFinger, UnreadableImage, captured_from_pixels, check_position


class AnsiNistScanner:
    def __init__(self, path: str | Path):
        path = Path(path)
        try:
            transaction = read_transaction(path.read_bytes())
            self._images = {f.position: (pixels_of(f), f.ppi) for f in transaction.fingers
                            if f.image is not None and 1 <= f.position <= 10}
        except FileNotFoundError:
            raise UnreadableImage(f"no ANSI/NIST-ITL file at {path}") from None
        except AnsiNistError as exc:
            raise UnreadableImage(f"{path}: {exc}") from None
        self.mapping = {position: path.name for position in self._images}
        #: the fingers the transaction declares without an image: amputated / unable_to_print
        self.exceptions = {f.position: f.status for f in transaction.fingers
                           if f.image is None and f.status != "captured" and 1 <= f.position <= 10}

    def capture(self, finger_position: int) -> CapturedImage:
        check_position(finger_position)
        if finger_position not in self._images:
            raise NoImageForFinger(f"the transaction holds no image for finger position {finger_position}")
        pixels, ppi = self._images[finger_position]
        return captured_from_pixels(finger_position, pixels, min(max(ppi, 250), 1000))
