"""The Pillow plugin, used only through Pillow's own API: after `import vqcodec`, .vqz files
open lazily (size and mode from the header, pixels on load) and save with quality= or model=."""

import io

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import vqcodec  # registers the plugin
from vqcodec import zoo
from vqcodec.errors import (
    CorruptStreamError,
    ImageInputError,
    ModelError,
    RateError,
    VQCodecError,
)

from .conftest import photo


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugin") / "photo.vqz"
    Image.fromarray(photo(20, 28, seed=2)).save(path)
    return path


def test_registered_the_way_pillows_plugins_are():
    assert Image.registered_extensions()[".vqz"] == "VQZ"
    assert "VQZ" in Image.OPEN and "VQZ" in Image.SAVE and Image.MIME["VQZ"] == "image/x-vqz"


def test_open_reads_the_header_and_load_decodes(saved):
    with Image.open(saved) as im:
        assert (im.format, im.size, im.mode) == ("VQZ", (28, 20), "RGB")
        assert im.get_format_mimetype() == "image/x-vqz"
        assert im.info["model"] == zoo.default_name()
        im.load()
        pixels = np.asarray(im)
    assert pixels.shape == (20, 28, 3)
    reference = np.asarray(Image.open(io.BytesIO(saved.read_bytes())).convert("RGB"))
    assert np.array_equal(pixels, reference)


def test_pixels_are_decoded_only_on_load(saved, tmp_path):
    damaged = bytearray(saved.read_bytes())
    damaged[-2] ^= 0xFF  # payload only: the header is intact
    path = tmp_path / "damaged.vqz"
    path.write_bytes(bytes(damaged))
    im = Image.open(path)
    assert im.size == (28, 20) and im.mode == "RGB"  # opening did not decode
    with pytest.raises(CorruptStreamError):
        im.load()


def test_a_file_that_only_looks_like_vqz_is_pillows_unidentified_image(saved):
    """Pillow code catches UnidentifiedImageError (an OSError) from Image.open, not ours."""
    data = bytearray(saved.read_bytes())
    data[3] = 9  # format version
    for bad in (bytes(data), b"VQZ", b"VQZ" + bytes(40)):
        with pytest.raises(UnidentifiedImageError):
            Image.open(io.BytesIO(bad))


def test_a_failed_save_leaves_an_existing_file_intact(saved):
    before = saved.read_bytes()
    image = Image.fromarray(photo(24, 32, seed=4))
    with pytest.raises(RateError):
        image.save(saved, bpp=1e-5)  # no file is that small
    with pytest.raises(ImageInputError, match=r"alpha|transparen"):
        Image.new("RGBA", (16, 16), (1, 2, 3, 100)).save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir() if p.name.startswith(".vqcodec-")] == []


def test_save_all_writes_one_frame_and_refuses_more(tmp_path):
    image = Image.fromarray(photo(24, 32, seed=4))
    image.save(tmp_path / "all.vqz", save_all=True, quality=1)
    assert Image.open(tmp_path / "all.vqz").size == (32, 24)
    with pytest.raises(VQCodecError, match="one image"):
        image.save(tmp_path / "two.vqz", save_all=True, append_images=[image], quality=1)
    assert not (tmp_path / "two.vqz").exists()


def test_save_with_quality_or_model(tmp_path):
    image = Image.fromarray(photo(24, 32, seed=4))
    image.save(tmp_path / "q1.vqz", quality=1)
    assert Image.open(tmp_path / "q1.vqz").info["model"] == zoo.by_quality(1).model
    name = zoo.by_quality(2).model
    image.save(tmp_path / "named.vqz", model=name)
    assert Image.open(tmp_path / "named.vqz").info["model"] == name
    buf = io.BytesIO()
    image.convert("L").save(buf, format="VQZ")
    with Image.open(buf) as gray:
        assert gray.mode == "L" and gray.size == (32, 24)
        gray.load()


def test_save_errors_leave_no_file(tmp_path):
    image = Image.fromarray(photo(8, 8))
    with pytest.raises(ModelError, match="quality level 95"):
        image.save(tmp_path / "jpeg_habit.vqz", quality=95)
    transparent = Image.new("RGBA", (8, 8), (1, 2, 3, 0))
    with pytest.raises(vqcodec.ImageInputError, match="transparency"):
        transparent.save(tmp_path / "alpha.vqz")
    transparent.save(tmp_path / "alpha.vqz", drop_alpha=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha.vqz"]


def test_other_formats_are_unaffected():
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(buf, format="PNG")
    assert Image.open(buf).format == "PNG"


def test_save_with_a_size_budget(tmp_path):
    image = Image.fromarray(photo(64, 96, seed=3))
    image.save(tmp_path / "small.vqz", max_bytes=300)
    assert (tmp_path / "small.vqz").stat().st_size <= 300
    image.save(tmp_path / "rate.vqz", bpp=0.3)
    assert (tmp_path / "rate.vqz").stat().st_size <= 0.3 * 64 * 96 / 8
