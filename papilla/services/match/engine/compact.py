"""Compact gallery storage of MCC cylinders: geometry and a validity code in the corner cells.

The 12 cells in the corners of the 8 x 8 grid lie outside the cylinder's radius, so their bits are never
set. A 1:N shard stores each cylinder as its ND = 6 direction words only (48 bytes): the 6 x 12 corner bits
carry the minutia's geometry (x, y in 1/16 px as 18-bit signed fields, theta in 1/65536 turns) and a 20-bit
code of its cell-validity word in a per-shard table (validity words repeat a lot: 733 distinct among 116,500
cylinders of 3,320 real templates). Geometry and validity are decoded per compared template; the matcher
reads a gallery cylinder's direction words only through `probe & gallery` and `(probe | gallery) & validity`,
and the decoded copy is clean anyway. `engine.prepare` puts every template on the same grid
(`quantize_geometry`), so a template scores exactly the same 1:1 and from a block.

Nothing here is cached by numba (`cache=False`): these functions compile in the parameters or the
`score_pair` kernel of `mcc.py`, and numba's cache is invalidated by changes to its own file only, so a
cached copy would silently keep an old kernel or old parameters after `mcc.py` changes (a 1:N shard would
then score differently from 1:1). Compiling them costs a few seconds at a process's first use.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .mcc import ND, TWO_PI, scratch, score_pair

XY_SCALE = 16.0                       # fixed point: 1/16 px
XY_BITS = 18
XY_LIMIT = (1 << (XY_BITS - 1)) - 1   # |x|, |y| <= 8191.9 px
THETA_STEPS = 65536
THETA_STEP = TWO_PI / THETA_STEPS
CODE_BITS = 20                        # validity codes per shard table
INNER_CELLS = np.uint64(0x3C7EFFFFFFFF7E3C)  # the 52 cells within R: all but the 12 corner bits
_THETAS = np.arange(THETA_STEPS, dtype=np.float64) * THETA_STEP
COS_LUT = np.cos(_THETAS).astype(np.float32)
SIN_LUT = np.sin(_THETAS).astype(np.float32)


def quantize_geometry(xs: np.ndarray, ys: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(qx, qy, qt) int64 on the storage grid; monotone in theta (sorted templates stay sorted) and
    idempotent (a quantized template quantizes to itself)."""
    qx = np.clip(np.rint(xs * XY_SCALE), -XY_LIMIT, XY_LIMIT).astype(np.int64)
    qy = np.clip(np.rint(ys * XY_SCALE), -XY_LIMIT, XY_LIMIT).astype(np.int64)
    qt = np.clip(np.rint(np.mod(th, TWO_PI) / THETA_STEP), 0, THETA_STEPS - 1).astype(np.int64)
    return qx, qy, qt


def geometry_rows(qx: np.ndarray, qy: np.ndarray, qt: np.ndarray) -> np.ndarray:
    """float32 (n, 5) = x, y, theta, cos, sin from grid values (bit-identical to the compact decoding)."""
    geo = np.empty((len(qx), 5), np.float32)
    geo[:, 0] = (qx / XY_SCALE).astype(np.float32)
    geo[:, 1] = (qy / XY_SCALE).astype(np.float32)
    geo[:, 2] = (qt.astype(np.float64) * THETA_STEP).astype(np.float32)
    geo[:, 3] = COS_LUT[qt]
    geo[:, 4] = SIN_LUT[qt]
    return geo


@njit(cache=True, inline="always")
def _scatter12(v):
    """12 bits -> the corner cells 0,1 | 6,7,8 | 15 | 48 | 55,56,57 | 62,63 of a word."""
    return ((v & np.uint64(3)) | ((v >> np.uint64(2)) & np.uint64(7)) << np.uint64(6)
            | ((v >> np.uint64(5)) & np.uint64(1)) << np.uint64(15) | ((v >> np.uint64(6)) & np.uint64(1)) << np.uint64(48)
            | ((v >> np.uint64(7)) & np.uint64(7)) << np.uint64(55) | ((v >> np.uint64(10)) & np.uint64(3)) << np.uint64(62))


@njit(cache=True, inline="always")
def _gather12(w):
    return ((w & np.uint64(3)) | ((w >> np.uint64(6)) & np.uint64(7)) << np.uint64(2)
            | ((w >> np.uint64(15)) & np.uint64(1)) << np.uint64(5) | ((w >> np.uint64(48)) & np.uint64(1)) << np.uint64(6)
            | ((w >> np.uint64(55)) & np.uint64(7)) << np.uint64(7) | ((w >> np.uint64(62)) & np.uint64(3)) << np.uint64(10))


@njit(cache=False)  # never cached: it compiles in constants or kernels of mcc.py, whose changes numba
#                     does not see here (a cached copy would keep the old ones); see the module docstring
def embed_compact(geo, cyl, codes, out):
    """out (n, ND) = the direction words of cyl with each row's (quantized) geometry and validity code
    written into the corner bits: bits 0-59 of (qx | qy << 18 | qt << 36 | code << 52) in words 0-4, the
    code's top 12 bits in word 5."""
    mxy = np.int64((1 << XY_BITS) - 1)
    for n in range(cyl.shape[0]):
        qx = np.int64(round(geo[n, 0] * XY_SCALE))
        qy = np.int64(round(geo[n, 1] * XY_SCALE))
        qt = min(np.int64(round(geo[n, 2] / THETA_STEP)), THETA_STEPS - 1)
        code = np.uint64(codes[n])
        g = (np.uint64(qx & mxy) | (np.uint64(qy & mxy) << np.uint64(18)) | (np.uint64(qt) << np.uint64(36))
             | ((code & np.uint64(0xFF)) << np.uint64(52)))
        for w in range(ND):
            out[n, w] = cyl[n, w] & INNER_CELLS
        for w in range(5):
            out[n, w] |= _scatter12((g >> np.uint64(12 * w)) & np.uint64(0xFFF))
        out[n, 5] |= _scatter12(code >> np.uint64(8))


@njit(cache=True, inline="always")
def _decode_row(cyl, n, cos_lut, sin_lut, table, geo, clean, r):
    g = np.uint64(0)
    for w in range(5):
        g |= _gather12(cyl[n, w]) << np.uint64(12 * w)
    code = ((g >> np.uint64(52)) & np.uint64(0xFF)) | (_gather12(cyl[n, 5]) << np.uint64(8))
    qx = np.int64(g & np.uint64(0x3FFFF))
    qy = np.int64((g >> np.uint64(18)) & np.uint64(0x3FFFF))
    qt = np.int64((g >> np.uint64(36)) & np.uint64(0xFFFF))
    if qx >= (1 << (XY_BITS - 1)):
        qx -= 1 << XY_BITS
    if qy >= (1 << (XY_BITS - 1)):
        qy -= 1 << XY_BITS
    geo[r, 0] = np.float32(qx / XY_SCALE)
    geo[r, 1] = np.float32(qy / XY_SCALE)
    geo[r, 2] = np.float32(qt * THETA_STEP)
    geo[r, 3] = cos_lut[qt]
    geo[r, 4] = sin_lut[qt]
    for w in range(ND):
        clean[r, w] = cyl[n, w] & INNER_CELLS
    clean[r, ND] = table[code]


@njit(cache=False)  # never cached: it compiles in constants or kernels of mcc.py, whose changes numba
#                     does not see here (a cached copy would keep the old ones); see the module docstring
def decode_compact(cyl, cos_lut, sin_lut, table):
    """(geo float32 (n, 5), cyl uint64 (n, ND + 1)) of compact rows: the prepared template back."""
    n = cyl.shape[0]
    geo = np.empty((n, 5), np.float32)
    clean = np.empty((n, ND + 1), np.uint64)
    for r in range(n):
        _decode_row(cyl, r, cos_lut, sin_lut, table, geo, clean, r)
    return geo, clean


@njit(cache=False)  # never cached: it compiles in constants or kernels of mcc.py, whose changes numba
#                     does not see here (a cached copy would keep the old ones); see the module docstring
def compare_to_compact(ga, ca, g_cyl, starts, ends, cos_lut, sin_lut, table):
    """Probe against selected templates of a compact block (rows starts[k]:ends[k]): the same scores as
    `compare_to_selected` on the decoded templates."""
    n = starts.shape[0]
    out = np.zeros(n, np.float32)
    maxn = 1
    for k in range(n):
        maxn = max(maxn, ends[k] - starts[k])
    sc = scratch(ga.shape[0], maxn)
    gb = np.empty((maxn, 5), np.float32)
    cb = np.empty((maxn, ND + 1), np.uint64)
    for k in range(n):
        a, b = starts[k], ends[k]
        for r in range(b - a):
            _decode_row(g_cyl, a + r, cos_lut, sin_lut, table, gb, cb, r)
        out[k] = score_pair(ga, ca, gb[:b - a], cb[:b - a], sc)
    return out
