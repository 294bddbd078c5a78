"""Mutated .vqz files: decoding either raises the package's own error or gives the same image."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vqcodec
from vqcodec.errors import VQCodecError

from .conftest import photo


@pytest.fixture(scope="module")
def original():
    data = vqcodec.compress(photo(21, 34, seed=3))
    return data, np.asarray(vqcodec.decompress(data))


def _check(mutated: bytes, original) -> None:
    _, image = original
    try:
        out = vqcodec.decompress(mutated)
    except VQCodecError:
        return
    assert np.array_equal(np.asarray(out), image), "a damaged file decoded to a different image"


_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_truncated(original, cut):
    _check(original[0][: cut % len(original[0])], original)


@_SETTINGS
@given(
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), min_size=1, max_size=4)
)
def test_flipped_bytes(original, flips):
    data = bytearray(original[0])
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    _check(bytes(data), original)


@_SETTINGS
@given(extra=st.binary(min_size=1, max_size=16))
def test_appended(original, extra):
    _check(original[0] + extra, original)
