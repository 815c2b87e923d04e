"""FVC2002 and all-pairs comparison protocols over one database's impressions."""
from __future__ import annotations

import numpy as np

from .data import Impression


def pairs(imps: list[Impression], protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (genuine (G,2), impostor (I,2)) into `imps`.

    fvc: genuine = each impression vs each later impression of the same finger;
         impostor = first impression of each finger vs first impression of each later finger.
    all: every genuine pair and every impostor pair (each unordered pair once).
    """
    fingers = np.array([i.finger for i in imps])
    impr = np.array([i.impression for i in imps])
    n = len(imps)
    a, b = np.triu_indices(n, 1)
    same = fingers[a] == fingers[b]
    gen = np.stack([a[same], b[same]], 1)
    if protocol == "all":
        imp = np.stack([a[~same], b[~same]], 1)
    elif protocol == "fvc":
        first = {}
        for k in range(n):
            if fingers[k] not in first or impr[k] < impr[first[fingers[k]]]:
                first[fingers[k]] = k
        firsts = [first[f] for f in sorted(first)]
        imp = np.array([(firsts[x], firsts[y]) for x in range(len(firsts)) for y in range(x + 1, len(firsts))],
                       np.int64).reshape(-1, 2)
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    return gen.astype(np.int64), imp.astype(np.int64)
