"""The store symbols crypto needs, isolated so the dependency is explicit."""
from __future__ import annotations

from papilla.shared.locks import lease
from papilla.shared.store.base import DuplicateKeyError

__all__ = ["DuplicateKeyError", "lease"]
