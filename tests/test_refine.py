import hashlib

import numpy as np
import pytest

import vqcodec
from vqcodec.api import compress_image, decompress, info
from vqcodec.errors import CorruptStreamError, InputTypeError, VQCodecError
from vqcodec.format import bitstream
from vqcodec.layers import refine

from .conftest import photo


def test_transforms_are_orthonormal_and_invert():
    rng = np.random.default_rng(0)
    residual = rng.normal(0, 20, (21, 35, 3))
    coef = refine.forward(residual, 3)
    assert coef.shape == (3, 3, 5, 64)
    np.testing.assert_allclose(refine.inverse(coef, 21, 35), residual, atol=1e-9)
    whole = rng.normal(0, 20, (16, 24, 3))  # whole blocks: energy is kept (MSE = PSNR's)
    assert np.isclose((refine.forward(whole, 3) ** 2).sum(), (whole**2).sum())


def test_luma_only_refines_grey_equally():
    residual = np.repeat(np.arange(64.0).reshape(8, 8, 1), 3, axis=2)
    base = np.full((8, 8, 3), 100, np.uint8)
    q = refine.quantize(refine.forward(residual, 1), 1.0, 0.0)
    out = refine.refined(base, q, 1.0)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    np.testing.assert_allclose(out[..., 0], 100 + residual[..., 0], atol=1)


def test_dead_zone_rounds_small_magnitudes_to_zero():
    coef = np.array([0.69, 0.71, -0.71, 1.69, 1.71]) * 10
    assert refine.quantize(coef, 10.0, 0.2).tolist() == [0, 1, -1, 1, 2]
    assert refine.quantize(coef, 10.0, 0.0).tolist() == [1, 1, -1, 2, 2]


def test_family_rows_are_exact_integers_pinned_by_hash():
    """The decoder's frequencies come from integer arithmetic only; any change to them is a
    format change (bump bitstream.VERSION), which this hash catches."""
    rows = refine.family()
    assert rows.shape == (refine.FAMILIES, refine.SYMBOLS)
    assert (rows.sum(axis=1) == 1 << refine.FREQ_BITS).all() and (rows >= 1).all()
    np.testing.assert_array_equal(rows, rows[:, ::-1])  # signs are equally likely
    digest = hashlib.sha256(rows.astype("<i8").tobytes()).hexdigest()
    assert digest[:16] == "192741139df54ddb"


@pytest.mark.parametrize("channels", [1, 3])
def test_stripe_roundtrip_with_escapes(channels):
    rng = np.random.default_rng(channels)
    q = np.round(rng.laplace(0, 1.5, (channels, 5, 7, 64))).astype(np.int32)
    q[..., 20:] //= 3  # mostly zeros in the high bands
    q[0, 0, 0, 0], q[-1, 4, 6, 1], q[0, 2, 3, 63] = 3600, -17, 15  # escapes, and the boundary
    data = refine.encode_stripe(q)
    np.testing.assert_array_equal(refine.decode_stripe(data, channels, 5, 7), q)


@pytest.mark.parametrize("shape", [(1, 1), (1, 3), (2, 1)])
def test_tiny_stripes_roundtrip(shape):
    q = np.arange(3 * shape[0] * shape[1] * 64).reshape(3, *shape, 64).astype(np.int32) % 7 - 3
    np.testing.assert_array_equal(refine.decode_stripe(refine.encode_stripe(q), 3, *shape), q)


def test_all_zero_stripe_costs_almost_nothing():
    q = np.zeros((3, 64, 96, 64), np.int32)  # a 768x512 image the base got right
    assert len(refine.encode_stripe(q)) < 300


def test_image_roundtrip_over_several_stripes():
    rgb = photo(1100, 40, seed=3)  # three stripes
    base = np.clip(rgb.astype(int) + np.random.default_rng(0).integers(-9, 10, rgb.shape),
                   0, 255).astype(np.uint8)  # fmt: skip
    layer, out, nonzero = refine.encode(rgb, base, 6.0, 3)
    assert len(layer.streams) == len(refine.stripes(1100)) == 3
    decoded, decoded_nonzero = refine.decode(base, layer, 3)
    np.testing.assert_array_equal(decoded, out)
    np.testing.assert_array_equal(decoded_nonzero, nonzero)
    assert nonzero.shape == (3, -(-1100 // 8), 5) and nonzero.max() > 0
    assert np.abs(out.astype(int) - rgb).mean() < np.abs(base.astype(int) - rgb).mean()


def test_a_stripe_count_that_disagrees_with_the_size_is_corrupt():
    base = np.zeros((16, 16, 3), np.uint8)
    layer, _, _ = refine.encode(base, base, 8.0, 3)
    with pytest.raises(CorruptStreamError, match="stripes"):
        refine.decode(base, refine.Refinement(layer.step_q, layer.streams * 2), 3)


@pytest.mark.parametrize("step", [0.5, 2000.0])
def test_steps_outside_the_format_are_refused(step):
    with pytest.raises(ValueError, match="outside"):
        refine.step_q(step)


def test_refinement_raises_psnr_and_rate_and_decodes_exactly():
    rgb = photo(64, 96, seed=1)
    plain = compress_image(rgb, quality=1, refine_step=0)
    refined = compress_image(rgb, quality=1, refine_step=12)
    assert plain.refine_step is None and refined.refine_step == 12
    assert len(refined.data) > len(plain.data) and refined.refine_bytes > 0
    error = [np.abs(np.asarray(decompress(c.data)).astype(int) - rgb).mean()
             for c in (plain, refined)]  # fmt: skip
    assert error[1] < error[0]
    assert info(refined.data)["refine_step"] == 12
    assert info(refined.data)["format_version"] == bitstream.VERSION


def test_grayscale_refines_luma_only():
    grey = photo(48, 64, seed=2)[..., 0]
    from PIL import Image

    result = compress_image(Image.fromarray(grey), quality=1, refine_step=6)
    out = decompress(result.data)
    assert out.mode == "L"
    base = decompress(compress_image(Image.fromarray(grey), quality=1, refine_step=0).data)
    err = [np.abs(np.asarray(im).astype(int) - grey).mean() for im in (base, out)]
    assert err[1] < err[0]


def test_damaged_refinement_is_an_error_never_a_wrong_image():
    data = compress_image(photo(64, 96, seed=1), quality=1, refine_step=12).data
    header, _ = bitstream.unpack_header(data)
    start = len(data) - sum(header.record(bitstream.REFINEMENT_ID).lengths)
    for pos in range(start, len(data), max(1, (len(data) - start) // 7)):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(VQCodecError):
            decompress(bytes(bad))


@pytest.mark.parametrize("step", [-1, 0.5, 5000, "fine", True])
def test_bad_refine_steps_are_input_errors(step):
    with pytest.raises(InputTypeError, match="refine_step"):
        vqcodec.compress(photo(16, 16), refine_step=step)


def test_a_rate_target_owns_the_refinement():
    with pytest.raises(InputTypeError, match="rate target"):
        compress_image(photo(16, 16), bpp=1.0, refine_step=8)
