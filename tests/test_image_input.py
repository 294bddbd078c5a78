"""Images as people have them: EXIF orientation, ICC profiles, animations, 16-bit files, every
PIL mode, and every way Pillow can fail on a broken file (always one `ImageInputError` line)."""

import io
import warnings

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from vqcodec.errors import ImageInputError
from vqcodec.format.bitstream import COLOUR_GRAY, COLOUR_RGB
from vqcodec.io.image_io import to_rgb

from . import images
from .images import encoded


def one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert message and "\n" not in message, message
    return message


# --- orientation ---------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_viewers_show_it(orientation):
    data = images.rotated_jpeg(images.halves(32, 16, (250, 20, 20), (20, 20, 250)), orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    for source in (data, io.BytesIO(data), Image.open(io.BytesIO(data))):
        arr, colour = to_rgb(source)
        assert colour == COLOUR_RGB and np.array_equal(arr, expected)
    if orientation in (5, 6, 7, 8):
        assert arr.shape == (32, 16, 3)


def test_orientation_from_a_path(tmp_path):
    path = tmp_path / "phone.jpg"
    path.write_bytes(images.rotated_jpeg(images.halves(32, 16, (250, 20, 20), (20, 20, 250))))
    arr, _ = to_rgb(path)
    assert arr.shape == (32, 16, 3)
    assert arr[2, 8, 0] > 200 and arr[-3, 8, 2] > 200  # 90 degrees clockwise: left half on top


# --- colour profiles -------------------------------------------------------------------------


def _srgb_via_pillow(im: Image.Image, profile: bytes, mode: str = "RGB") -> np.ndarray:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    return np.asarray(ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"),
                                                outputMode=mode))  # fmt: skip


def test_display_p3_png_is_converted_to_srgb_like_pillow_does():
    p3 = images.display_p3_profile()
    im = Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 10, 3), np.uint8))
    data = encoded(im, "PNG", icc_profile=p3)
    arr, colour = to_rgb(data)
    assert colour == COLOUR_RGB
    assert np.array_equal(arr, _srgb_via_pillow(im, p3))
    assert not np.array_equal(arr, np.asarray(im))  # the profile did change the pixels


def test_grayscale_profile_is_applied_and_stays_grayscale():
    profile = images.gray_profile(1.8)
    im = Image.new("L", (8, 8), 100)
    arr, colour = to_rgb(encoded(im, "PNG", icc_profile=profile))
    assert colour == COLOUR_GRAY
    expected = _srgb_via_pillow(im, profile)
    assert np.array_equal(arr[..., 0], expected[..., 1]) and arr[0, 0, 0] != 100


def test_profile_of_the_wrong_colour_space_is_ignored_as_browsers_do():
    im = Image.new("L", (8, 8), 100)
    arr, colour = to_rgb(encoded(im, "PNG", icc_profile=images.display_p3_profile()))
    assert colour == COLOUR_GRAY and np.all(arr == 100)


def test_broken_profile_is_one_line_error():
    im = Image.new("RGB", (8, 8), (1, 2, 3))
    with pytest.raises(ImageInputError, match="ICC profile") as info:
        to_rgb(encoded(im, "PNG", icc_profile=b"not a profile at all" * 10))
    one_line(info)


def test_pil_image_with_a_profile_is_converted_too():
    p3 = images.display_p3_profile()
    im = Image.new("RGB", (8, 8), (200, 100, 60))
    im.info["icc_profile"] = p3
    arr, _ = to_rgb(im)
    assert tuple(arr[0, 0]) == tuple(_srgb_via_pillow(im, p3)[0, 0])


# --- frames ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP", "TIFF"])
def test_animations_and_multipage_files_are_refused(fmt):
    with pytest.raises(ImageInputError, match="3 frames") as info:
        to_rgb(images.animated(fmt))
    one_line(info)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP", "TIFF"])
def test_single_frame_files_of_the_same_formats_are_coded(fmt):
    arr, _ = to_rgb(images.animated(fmt, n=1))
    assert arr.shape == (12, 16, 3)


# --- 16-bit ----------------------------------------------------------------------------------


def test_16bit_rgb_and_gray_pngs_are_reduced_to_8_bits_alike():
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    arr, colour = to_rgb(images.png_16bit(wide))
    assert colour == COLOUR_RGB and np.array_equal(arr, (wide >> 8).astype(np.uint8))
    arr, colour = to_rgb(images.png_16bit(wide[..., 0]))
    assert colour == COLOUR_GRAY and np.array_equal(arr[..., 0], (wide[..., 0] >> 8))


@pytest.mark.parametrize("mode", ["I;16", "I;16L", "I;16B", "I;16N"])
def test_16bit_gray_modes_keep_the_high_byte(mode):
    im = Image.new(mode, (3, 2), 0x1234)
    arr, colour = to_rgb(im)
    assert colour == COLOUR_GRAY and np.all(arr == 0x12)


# --- every mode ------------------------------------------------------------------------------

CODED = {
    "1": COLOUR_GRAY,
    "L": COLOUR_GRAY,
    "LA": COLOUR_GRAY,
    "La": COLOUR_GRAY,
    "I;16": COLOUR_GRAY,
    "I;16L": COLOUR_GRAY,
    "I;16B": COLOUR_GRAY,
    "I;16N": COLOUR_GRAY,
    "P": COLOUR_RGB,
    "PA": COLOUR_RGB,
    "RGB": COLOUR_RGB,
    "RGBA": COLOUR_RGB,
    "RGBa": COLOUR_RGB,
    "RGBX": COLOUR_RGB,
    "YCbCr": COLOUR_RGB,
    "LAB": COLOUR_RGB,
    "HSV": COLOUR_RGB,
}
REFUSED = {"CMYK", "I", "F"}


def test_the_mode_tables_cover_every_pil_mode():
    assert set(CODED) | REFUSED == set(Image.MODES)


@pytest.mark.parametrize("mode", sorted(CODED))
def test_every_codable_mode_is_coded(mode):
    opaque = {"LA": (90, 255), "La": (90, 255), "PA": (3, 255)}
    opaque |= {"RGBA": (10, 20, 30, 255), "RGBa": (10, 20, 30, 255)}
    fill = opaque.get(mode)
    arr, colour = to_rgb(Image.new(mode, (5, 4), fill))
    assert colour == CODED[mode] and arr.shape == (4, 5, 3) and arr.dtype == np.uint8


def test_premultiplied_modes_are_unpremultiplied():
    arr, _ = to_rgb(Image.new("RGBa", (2, 2), (10, 20, 30, 255)))
    assert tuple(arr[0, 0]) == (10, 20, 30)
    arr, colour = to_rgb(Image.new("La", (2, 2), (90, 255)))
    assert colour == COLOUR_GRAY and arr[0, 0, 0] == 90
    with pytest.raises(ImageInputError, match="transparency"):
        to_rgb(Image.new("RGBa", (2, 2), (10, 20, 30, 128)))


def test_lab_and_hsv_are_converted_to_rgb():
    arr, _ = to_rgb(Image.new("RGB", (2, 2), (200, 30, 30)).convert("LAB"))
    assert np.abs(arr[0, 0].astype(int) - (200, 30, 30)).max() <= 2
    arr, _ = to_rgb(Image.new("RGB", (2, 2), (200, 30, 30)).convert("HSV"))
    assert np.abs(arr[0, 0].astype(int) - (200, 30, 30)).max() <= 2


@pytest.mark.parametrize("mode", sorted(REFUSED))
def test_every_other_mode_is_refused_with_one_line(mode):
    with pytest.raises(ImageInputError, match=f"mode {mode}") as info:
        to_rgb(Image.new(mode, (4, 4)))
    one_line(info)


def test_transparent_colour_keys_count_as_transparency():
    for mode, key in (("L", 7), ("RGB", (1, 2, 3))):
        im = Image.new(mode, (4, 4), key)
        with pytest.raises(ImageInputError, match="transparency"):
            to_rgb(encoded(im, "PNG", transparency=key))
        arr, _ = to_rgb(encoded(im, "PNG", transparency=key), drop_alpha=True)
        assert arr.shape == (4, 4, 3)


# --- broken files ----------------------------------------------------------------------------


def _broken_inputs() -> dict[str, bytes]:
    png = encoded(Image.new("RGB", (8, 8), (9, 9, 9)), "PNG")
    ihdr_short = png[:8] + images.chunk(b"IHDR", png[16:25]) + png[33:]
    ztxt = images.png_with_chunk(
        Image.new("RGB", (4, 4)), b"zTXt", b"k\0\0" + __import__("zlib").compress(bytes(1 << 24))
    )
    return {
        "truncated IHDR": ihdr_short,
        "malformed PPM": b"P6\n4 -4\n255\n" + bytes(48),
        "PPM with a huge maxval": b"P6\n2 2\n99999999999\n" + bytes(12),
        "zTXt bomb": ztxt,
        "truncated GIF": encoded(Image.new("P", (8, 8)), "GIF")[:20],
        "truncated TIFF": encoded(Image.new("RGB", (8, 8)), "TIFF")[:40],
        "empty file": b"",
        "JPEG header only": encoded(Image.new("RGB", (8, 8)), "JPEG")[:30],
    }


@pytest.mark.parametrize("name", sorted(_broken_inputs()))
def test_broken_files_are_one_line_input_errors(name):
    with pytest.raises(ImageInputError) as info:
        to_rgb(_broken_inputs()[name])
    one_line(info)


def test_decompression_bomb_warning_is_an_error_and_never_printed():
    huge = images.png_header(10_000, 10_000)  # over Pillow's warning threshold, not its error's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageInputError, match="limit") as info:
            to_rgb(huge)
    assert not caught, [str(w.message) for w in caught]
    one_line(info)


def test_decompression_bomb_error_is_an_input_error():
    with pytest.raises(ImageInputError, match="limit") as info:
        to_rgb(images.png_header(60_000, 60_000))
    one_line(info)


def test_non_seekable_stream_is_read_with_a_bound(monkeypatch):
    from vqcodec.io import image_io

    class Pipe(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buf):
            buf[:] = bytes(len(buf))
            return len(buf)

    monkeypatch.setattr(image_io, "MAX_INPUT_BYTES", 1 << 16)
    with pytest.raises(ImageInputError, match="over") as info:
        to_rgb(io.BufferedReader(Pipe()))
    one_line(info)
    data = encoded(Image.new("RGB", (3, 3), (5, 6, 7)), "PNG")
    pipe = io.BufferedReader(io.BytesIO(data))
    pipe.seekable = lambda: False
    assert to_rgb(pipe)[0].shape == (3, 3, 3)


def test_frames_of_a_pil_image_count_too():
    animation = Image.open(io.BytesIO(images.animated("GIF")))
    with pytest.raises(ImageInputError, match="frames"):
        to_rgb(animation)
    animation.seek(1)
    assert to_rgb(animation.copy())[0].shape == (12, 16, 3)  # one frame, taken out


def test_a_cameras_mpo_is_coded_as_its_first_picture():
    first, second = images.frames(2)
    data = images.encoded(first, "MPO", save_all=True, append_images=[second], quality=95)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    arr, _ = to_rgb(data)
    assert np.abs(arr.astype(int) - np.asarray(first)).max() < 8
