"""The one store symbol crypto needs, isolated so the dependency is explicit."""
from __future__ import annotations

try:
    from papilla.shared.store.base import DuplicateKeyError
except ImportError:  # pragma: no cover - store package not merged yet
    class DuplicateKeyError(Exception):  # type: ignore[no-redef]
        """Placeholder until papilla.shared.store.base lands."""

__all__ = ["DuplicateKeyError"]
