import numpy as np
import pytest

from vqcodec.api import compress_image, decompress, info
from vqcodec.errors import CorruptStreamError, VQCodecError
from vqcodec.layers import restore

from .conftest import photo


def blocky(rgb: np.ndarray, step: int = 24) -> np.ndarray:
    """`rgb` with 8x8 block means coarsely quantized into it: a decoded image with block edges
    and lost detail that a filter can partly restore."""
    h, w = rgb.shape[0] // 8 * 8, rgb.shape[1] // 8 * 8
    blocks = rgb[:h, :w].astype(float).reshape(h // 8, 8, w // 8, 8, 3)
    means = blocks.mean(axis=(1, 3), keepdims=True)
    detail = np.round((blocks - means) / step) * step
    out = rgb.astype(float).copy()
    out[:h, :w] = (means + detail).reshape(h, w, 3)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def sse(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a.astype(float) - b) ** 2).sum())


def test_fitted_filter_lowers_the_error_it_promises():
    rgb = photo(96, 120, seed=4)
    decoded = blocky(rgb)
    classes = restore.unrefined_classes(3, *rgb.shape[:2])
    filt = restore.fit(rgb, decoded, classes, lam=0.0)
    assert all(w is not None for w in filt.weights)
    out = restore.apply(decoded, filt, classes)
    assert sse(out, rgb) < 0.9 * sse(decoded, rgb)


def test_filters_that_do_not_pay_are_not_sent():
    rgb = photo(64, 64, seed=5)
    decoded = blocky(rgb)
    classes = restore.unrefined_classes(3, 64, 64)
    filt = restore.fit(rgb, decoded, classes, lam=1e12)
    assert not filt.active and restore.encode(filt) == b""
    assert restore.apply(decoded, filt, classes) is decoded
    assert restore.decode(b"", 3) == filt


def test_classes_count_nonzero_coefficients_in_log2_buckets():
    nonzero = np.array([[[0, 1, 2], [3, 4, 64]]])
    classes = restore.activity_classes(nonzero, 12, 20)
    assert classes.shape == (1, 12, 20)
    assert classes[0, ::8, ::8].tolist() == [[0, 1, 2], [2, 3, 3]]
    assert (classes[0, :8, :8] == 0).all() and (classes[0, 8:, 16:] == 3).all()


@pytest.mark.parametrize(
    "weights",
    [
        ((tuple(range(-6, 7)),), None, ((0,) * 13,)),
        (tuple(tuple(v * k for v in range(13)) for k in (1, -2, 3, 4095 // 12)),),
        (None, None, ((restore.MAX_WEIGHT,) * 13,)),
    ],
    ids=["one-filter", "per-class", "extreme"],
)
def test_stream_roundtrip(weights):
    filt = restore.Filter(weights)
    assert restore.decode(restore.encode(filt), len(weights)) == filt


def test_per_class_filters_apply_by_class():
    rgb = photo(40, 48, seed=6)
    decoded = blocky(rgb)
    zero = (0,) * restore.TAPS
    brighten = (0,) * (restore.TAPS - 1) + (3 << restore.FRACTION_BITS,)  # +3 luma units
    filt = restore.Filter(((zero, brighten, zero, zero), None, None))
    classes = np.zeros((3, 40, 48), np.int8)
    classes[0, :16] = 1
    out = restore.apply(decoded, filt, classes).astype(int) - decoded
    assert (out[16:] == 0).all()
    assert abs(out[:16].mean() - 3 / np.sqrt(3)) < 0.2  # luma unit: RGB sum / sqrt(3)


def test_chunked_filtering_equals_whole(monkeypatch):
    rgb = photo(70, 50, seed=7)
    decoded = blocky(rgb)
    classes = restore.unrefined_classes(3, 70, 50)
    filt = restore.fit(rgb, decoded, classes, lam=0.0)
    whole = restore.apply(decoded, filt, classes)
    monkeypatch.setattr(restore, "CHUNK_ROWS", 16)
    assert restore.fit(rgb, decoded, classes, lam=0.0) == filt
    np.testing.assert_array_equal(restore.apply(decoded, filt, classes), whole)


def test_damaged_streams_are_errors():
    stream = restore.encode(restore.Filter((((1,) * restore.TAPS,), None, None)))
    with pytest.raises(CorruptStreamError, match="trailing"):
        restore.decode(stream + b"\x01" * 16, 3)
    with pytest.raises(CorruptStreamError, match="no filtered channel"):
        restore.decode(b"\x00\x00\x00\x01", 3)  # three "none" modes


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_decode_to_a_filter_or_a_clean_error(seed):
    data = np.random.default_rng(seed).bytes(1 + seed * 7)
    try:
        filt = restore.decode(data, 3)
    except CorruptStreamError:
        return
    assert len(filt.weights) == 3 and filt.active


def test_files_carry_the_filter_and_its_damage_is_caught():
    rgb = photo(128, 160, seed=8)
    result = compress_image(rgb, quality=8)
    assert result.filter_bytes > 0 and info(result.data)["filter_bytes"] == result.filter_bytes
    damaged = bytearray(result.data)
    damaged[-1] ^= 0x10  # the filter stream is last
    with pytest.raises(VQCodecError):
        decompress(bytes(damaged))


def test_grayscale_filters_luma_only():
    grey = photo(64, 80, seed=9)[..., 0]
    rgb = np.repeat(grey[..., None], 3, axis=2)
    decoded = blocky(rgb)
    classes = restore.unrefined_classes(1, 64, 80)
    filt = restore.fit(rgb, decoded, classes, lam=0.0)
    out = restore.apply(decoded, filt, classes)
    assert len(filt.weights) == 1
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
