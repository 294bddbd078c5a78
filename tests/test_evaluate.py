import math

import pytest
from PIL import Image

from vqcodec.bench.evaluate import measure, psnr_rgb

from .conftest import photo


def test_measure_is_consistent(tmp_path):
    path = tmp_path / "im.png"
    Image.fromarray(photo(40, 56)).save(path)
    r = measure(path)
    assert (r.width, r.height) == (56, 40)
    assert r.bpp == pytest.approx(8 * r.bytes / (56 * 40))
    assert r.payload_bits <= r.ideal_bits * 1.001 + 64 * r.streams
    assert r.ideal_bits == pytest.approx(r.teacher_forced_bits, rel=1e-6)  # same network
    assert min(r.encode_s, r.decode_s, r.prior_decode_s, r.teacher_forced_s) > 0
    assert 15 < r.psnr < 60 and r.as_dict()["name"] == "im.png"


def test_psnr_rgb():
    a = photo(8, 8)
    assert psnr_rgb(a, a) == float("inf")
    b = a.copy()
    b[0, 0, 0] ^= 1
    assert psnr_rgb(a, b) == pytest.approx(10 * math.log10(255**2 * 192))  # one error in 192
