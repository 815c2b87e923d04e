"""FVC images and what the emulated U.are.U 4000B should return for them (scanner tests)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from papilla.services.capture.drivers.emulated import sensor_frame


def fvc(fvc_dir, name: str) -> np.ndarray:
    with Image.open(fvc_dir / "DB1_B" / f"{name}.tif") as img:
        return np.asarray(img.convert("L"))


def pixels(shot) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(shot.png)))


def expected(image: np.ndarray) -> np.ndarray:
    """What the driver should return for `image`: the sensor's window on it, upright, dark ridges."""
    return 255 - sensor_frame(image)[::-1, ::-1]


def same_image(shot, image: np.ndarray, lost: int = 0) -> bool:
    """Equal below the first row (the 4000B does not send its last raw row); `lost` bytes may differ
    (a scrambled block's last byte is not transmitted)."""
    return int((pixels(shot)[1:] != expected(image)[1:]).sum()) <= lost
