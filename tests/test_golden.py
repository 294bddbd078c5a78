"""Files written by earlier versions keep decoding to the same image (format stability).

`tests/data/golden_v1.vqz` was written by format version 1 with model id 1 (s4-t512-b512, first
shipped as "q1") from a 96x64 crop of examples/sample.png; its decoded pixels must keep their
sha256. If the format or the schedule must change, bump bitstream.VERSION and keep a reader for
this file, do not regenerate it.
"""

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

import vqcodec

from .conftest import SAMPLE

GOLDEN = Path(__file__).parent / "data" / "golden_v1.vqz"
PIXELS_SHA256 = "487b60dd62e5a179873eebad722f1f4ee3bf81d77526917267086f2d931bb540"


def test_golden_v1_file_decodes_to_the_same_pixels():
    image = vqcodec.decompress(GOLDEN.read_bytes())
    assert image.size == (96, 64) and image.mode == "RGB"
    assert hashlib.sha256(np.asarray(image).tobytes()).hexdigest() == PIXELS_SHA256


def test_golden_v1_file_is_what_the_encoder_writes_today():
    crop = np.asarray(Image.open(SAMPLE).convert("RGB"))[100:164, 150:246]
    assert vqcodec.compress(crop, model="s4-t512-b512") == GOLDEN.read_bytes()
