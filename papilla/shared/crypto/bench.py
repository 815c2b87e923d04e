"""Envelope round-trip benchmark: ``python -m papilla.shared.crypto.bench [size] [n]``.

One round trip = `encrypt` + `decrypt` of ``size`` bytes for one subject on a
fresh SQLiteStore in a temporary directory; each call reads and unwraps the
data key again (no caching, so shredding is immediate everywhere).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

from papilla.shared.store.sqlite import SQLiteStore

from .envelope import EnvelopeCipher
from .keys import FileKeyProvider


def run(size: int = 2048, n: int = 5000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(os.path.join(tmp, "bench.sqlite3"))
        env = EnvelopeCipher(store, FileKeyProvider(os.path.join(tmp, "keys")))
        plaintext = os.urandom(size)
        env.encrypt("bench-subject", "bench", "doc", "field", plaintext)
        start = time.perf_counter()
        for _ in range(n):
            blob = env.encrypt("bench-subject", "bench", "doc", "field", plaintext)
            if env.decrypt("bench-subject", "bench", "doc", "field", blob) != plaintext:
                raise AssertionError("round trip mismatch")
        elapsed = time.perf_counter() - start
        store.close()
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    size = int(args[0]) if args else 2048
    n = int(args[1]) if len(args) > 1 else 5000
    print(f"envelope round trips/s at {size} B (SQLiteStore, no key cache): {run(size, n):,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
