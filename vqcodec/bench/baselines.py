"""Classical codecs measured in the same run as vqcodec, each swept over its quality setting.

| name | library                     | settings                                          |
|------|-----------------------------|---------------------------------------------------|
| jpeg | Pillow (libjpeg)            | 4:2:0, optimize=True, quality 5..95               |
| webp | Pillow (libwebp)            | lossy, method=6, quality 0..100                   |
| avif | Pillow (libavif)            | 4:2:0, speed=6, quality 10..90                    |
| jxl  | imagecodecs (libjxl)        | effort=7, distance 0.5..15                        |

Pillow's codecs come with the base install (AVIF and WebP where the Pillow build has them);
imagecodecs is in the `bench` extra, so `missing` says which baselines cannot run here.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, features


@dataclass(frozen=True)
class Baseline:
    name: str
    settings: str
    qualities: tuple[float, ...]
    encode: Callable[[np.ndarray, float], bytes]
    decode: Callable[[bytes], np.ndarray]


def _pillow_encode(fmt: str, **options: object) -> Callable[[np.ndarray, float], bytes]:
    def encode(rgb: np.ndarray, quality: float) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt, quality=int(quality), **options)
        return buf.getvalue()

    return encode


def _pillow_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _jxl_encode(rgb: np.ndarray, distance: float) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.jpegxl_encode(rgb, effort=7, distance=float(distance)))


def _jxl_decode(data: bytes) -> np.ndarray:
    import imagecodecs

    return np.asarray(imagecodecs.jpegxl_decode(data))[..., :3]


BASELINES = {
    b.name: b
    for b in [
        Baseline(
            "jpeg",
            "Pillow libjpeg, 4:2:0, optimize",
            (5, 10, 15, 20, 30, 40, 50, 60, 75, 85, 95),
            _pillow_encode("JPEG", subsampling=2, optimize=True),
            _pillow_decode,
        ),
        Baseline(
            "webp",
            "Pillow libwebp, lossy, method 6",
            (0, 5, 10, 20, 30, 40, 50, 60, 75, 90, 95, 100),
            _pillow_encode("WEBP", method=6, lossless=False),
            _pillow_decode,
        ),
        Baseline(
            "avif",
            "Pillow libavif, 4:2:0, speed 6",
            (10, 20, 30, 40, 50, 60, 70, 80, 90),
            _pillow_encode("AVIF", subsampling="4:2:0", speed=6),
            _pillow_decode,
        ),
        Baseline(
            "avif444",
            "Pillow libavif, 4:4:4, speed 6",
            (5, 10, 20, 30, 40, 50, 60, 70, 80, 90),
            _pillow_encode("AVIF", subsampling="4:4:4", speed=6),
            _pillow_decode,
        ),
        Baseline(
            "jxl",
            "imagecodecs libjxl, effort 7, distance",
            (15, 10, 7, 5, 3.5, 2.5, 1.8, 1.2, 0.8, 0.5),
            _jxl_encode,
            _jxl_decode,
        ),
    ]
}


_NEEDS_PILLOW_FEATURE = {"jpeg": "jpg", "webp": "webp", "avif": "avif", "avif444": "avif"}


def missing(name: str) -> str | None:
    """Why baseline `name` cannot run with the packages installed here (None: it can)."""
    if name == "jxl" and importlib.util.find_spec("imagecodecs") is None:
        return "needs imagecodecs: pip install 'vqcodec[bench]'"
    feature = _NEEDS_PILLOW_FEATURE.get(name)
    if feature is not None and not features.check(feature):
        return f"this Pillow was built without {name.upper()} support"
    return None
