"""Stand-ins for a station's devices in tests."""
from __future__ import annotations


class CountingScanner:
    """A scanner that must not be used: counts the captures asked for and fails each one."""

    def __init__(self):
        self.captures = 0

    def capture(self, position):
        self.captures += 1
        raise AssertionError("an ineligible person must not be captured")
