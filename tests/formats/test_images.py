"""Image decoding: every supported container, conversions, specific errors."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from papilla.shared.formats.images import ImageFormatError, decode_image, load_image


@pytest.mark.parametrize("name", ["probe.png", "probe.bmp", "probe.jpeg", "wsq-original.wsq"])
def test_each_format_decodes_to_uint8_gray(data_dir, name):
    img = load_image(data_dir / "samples" / name)
    assert img.pixels.dtype == np.uint8 and img.pixels.ndim == 2
    assert 100 <= min(img.pixels.shape) and max(img.pixels.shape) <= 1000


def test_fvc_tiff_decodes(fvc_dir):
    img = load_image(fvc_dir / "DB2_B" / "101_1.tif")
    assert img.pixels.shape == (560, 296)
    assert img.dpi is None  # header carries a placeholder resolution; caller supplies 569


def test_png_bmp_jpeg_agree(data_dir):
    png = load_image(data_dir / "samples" / "probe.png").pixels.astype(int)
    bmp = load_image(data_dir / "samples" / "probe.bmp").pixels.astype(int)
    jpg = load_image(data_dir / "samples" / "probe.jpeg").pixels.astype(int)
    assert np.array_equal(png, bmp)
    assert np.abs(png - jpg).mean() < 4  # lossy


def test_wsq_matches_its_converted_png(data_dir):
    wsq = load_image(data_dir / "samples" / "wsq-original.wsq")
    png = load_image(data_dir / "samples" / "wsq-converted.png")
    assert wsq.format == "WSQ"
    assert wsq.pixels.shape == png.pixels.shape
    diff = np.abs(wsq.pixels.astype(int) - png.pixels.astype(int))
    assert diff.mean() < 2 and np.percentile(diff, 99) <= 8


def _encode(arr: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def test_rgb_and_16bit_are_converted():
    rgb = np.zeros((120, 130, 3), np.uint8)
    rgb[..., 1] = 200
    out = decode_image(_encode(rgb, "PNG")).pixels
    assert out.shape == (120, 130) and out.dtype == np.uint8
    g16 = (np.arange(120 * 130, dtype=np.uint16).reshape(120, 130) * 4)
    out16 = decode_image(_encode(g16, "PNG")).pixels
    assert out16.dtype == np.uint8 and out16.max() > 100


def test_header_dpi_is_reported_when_plausible():
    arr = np.full((150, 150), 128, np.uint8)
    assert decode_image(_encode(arr, "PNG", dpi=(500, 500))).dpi == 500
    assert decode_image(_encode(arr, "PNG", dpi=(72, 72))).dpi is None


@pytest.mark.parametrize("shape", [(99, 300), (300, 1001), (50, 50), (1200, 1200)])
def test_size_outside_limits_is_a_specific_error(shape):
    arr = np.full(shape, 128, np.uint8)
    with pytest.raises(ImageFormatError, match="outside 100..1000"):
        decode_image(_encode(arr, "PNG"))


def test_garbage_is_unsupported_without_echoing_bytes():
    data = b"SECRET-PAYLOAD-" * 20
    with pytest.raises(ImageFormatError, match="unsupported format") as exc:
        decode_image(data)
    assert "SECRET" not in str(exc.value)
    with pytest.raises(ImageFormatError, match="unsupported format"):
        decode_image(b"")


def test_unsupported_container_is_rejected():
    arr = np.full((120, 120), 128, np.uint8)
    with pytest.raises(ImageFormatError, match="unsupported format: GIF"):
        decode_image(_encode(arr, "GIF"))


def test_truncated_image_is_a_specific_error(data_dir):
    data = (data_dir / "samples" / "probe.png").read_bytes()
    with pytest.raises(ImageFormatError, match="corrupt or truncated PNG"):
        decode_image(data[: len(data) // 2])
