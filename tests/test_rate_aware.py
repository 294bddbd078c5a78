"""Rate-aware index choice: weight 0 is the nearest codeword, a weight buys bits with
distortion, and the decoder reads whatever was chosen."""

import numpy as np
import pytest
import torch

from vqcodec.api import decode_indices, load_codec
from vqcodec.coding.rate_aware import RateAware
from vqcodec.format.bitstream import COLOUR_RGB
from vqcodec.model.codec import DEFAULT_TILE
from vqcodec.pipeline import Settings, analyse

from .conftest import photo


def test_no_weight_is_the_nearest_codeword():
    codec = load_codec()
    rgb = photo(64, 96, seed=1)
    plain = codec.encode_image(rgb, rate_weights=(0, 0))
    assert all(torch.equal(a, b) for a, b in zip(plain.maps, codec.analyse(rgb), strict=True))
    # the rate-aware path with a weight too small to matter chooses the same indices
    tiny = codec.encode_image(rgb, rate_weights=(1e-9, 1e-9))
    assert all(torch.equal(a, b) for a, b in zip(plain.maps, tiny.maps, strict=True))
    assert tiny.streams == plain.streams


def test_latents_quantize_to_the_analysed_indices():
    codec = load_codec()
    rgb = photo(48, 80, seed=2)
    top, bottom = codec.analyse(rgb)
    quant = codec.model.vqvae
    z_top = codec.latents(rgb, [])
    assert torch.equal(quant.quant_top.indices(z_top.permute(2, 0, 1)[None])[0], top)
    z_bottom = codec.latents(rgb, [top])
    assert torch.equal(quant.quant_bottom.indices(z_bottom.permute(2, 0, 1)[None])[0], bottom)
    assert torch.equal(codec.latents(rgb, [top], nearest=True), bottom)


@pytest.mark.parametrize("weights", [(0, 0.5), (2, 0), (1, 4)])
def test_weights_buy_bits_and_the_decoder_reads_the_choice(weights):
    codec = load_codec()
    rgb = photo(64, 96, seed=3)
    plain = codec.encode_image(rgb, rate_weights=(0, 0))
    chosen = codec.encode_image(rgb, rate_weights=weights)
    assert chosen.ideal_bits < plain.ideal_bits
    assert any(not torch.equal(a, b) for a, b in zip(chosen.maps, plain.maps, strict=True))
    # the file decodes to exactly the chosen indices
    data = analyse(rgb, COLOUR_RGB, codec, DEFAULT_TILE, weights).file(Settings(None))[0].data
    _, _, decoded = decode_indices(data)
    assert all(torch.equal(a, b) for a, b in zip(decoded, chosen.maps, strict=True))


def test_a_heavier_weight_never_costs_more_bits_here():
    codec = load_codec()
    rgb = photo(64, 96, seed=4)
    bits = [codec.encode_image(rgb, rate_weights=(0, w)).ideal_bits for w in (0, 0.25, 1, 4)]
    assert bits == sorted(bits, reverse=True)


@pytest.mark.parametrize("weights", [(1,), (0, -1), (0, 0, 0)])
def test_bad_weights_are_refused(weights):
    with pytest.raises(ValueError, match="rate weights"):
        load_codec().encode_image(photo(16, 16), rate_weights=weights)


def test_the_choice_trades_distance_for_bits():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    latents = torch.tensor([[[0.6, 0.0]]])  # nearer the second codeword
    rate_aware = RateAware(latents, codebook, rate_weight=0.0)
    choice = rate_aware.choice([(0, 1, 0, 1)])
    front = type("F", (), {"plain": torch.tensor([0])})()
    cheap_first = torch.tensor([[float(1 << 23) - 1, 1.0]])  # the first codeword is ~certain
    assert choice(front, cheap_first).tolist() == [1]
    heavy = RateAware(latents, codebook, rate_weight=1.0).choice([(0, 1, 0, 1)])
    assert heavy(front, cheap_first).tolist() == [0]
    assert np.isclose(rate_aware.scale, 0.16)
