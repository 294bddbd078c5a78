"""Format 1 (read only, plus a writer for tests): the float prior, one stream per map.

Format 1 computed probabilities with the float prior, so a file decodes only on machines whose
float arithmetic (CPU family, instruction set, BLAS) matches the writer's: measured, a file
written on an AMD EPYC fails on an Intel Xeon with the same torch. Its CRC turns that into a
clear error instead of a wrong image. Format 2 (`vqcodec.model.codec`) replaced it.
"""

from __future__ import annotations

import torch

from vqcodec.coding.entropy import bytes_to_words, decode_map, encode_map, words_to_bytes
from vqcodec.errors import CorruptStreamError
from vqcodec.format import bitstream
from vqcodec.model.codec import Codec, index_bytes, map_sizes

NOT_PORTABLE = (
    "format 1 file does not decode on this machine: its float prior is not portable across CPU "
    "families (re-encode the original with this version, whose format 2 files decode anywhere)"
)


def decode_maps(codec: Codec, parsed: bitstream.Parsed) -> list[torch.Tensor]:
    """The two maps of a format 1 file, CRC-checked."""
    h = parsed.header
    (top_shape, bottom_shape) = map_sizes(h.width, h.height, codec.cfg.vqvae.stride)
    (top_bytes, bottom_bytes), = parsed.streams  # fmt: skip
    try:
        top = decode_map(codec.model.prior_top, bytes_to_words(top_bytes), *top_shape, None)
        bottom = decode_map(
            codec.model.prior_bottom, bytes_to_words(bottom_bytes), *bottom_shape, top
        )
    except CorruptStreamError:
        raise CorruptStreamError(NOT_PORTABLE) from None
    if bitstream.crc_of(parsed.header_fields, index_bytes([top, bottom])) != parsed.crc:
        raise CorruptStreamError(NOT_PORTABLE)
    return [top, bottom]


def encode(codec: Codec, rgb, colour: int) -> bytes:
    """A format 1 file of `rgb` (for tests of the reader: format 1 is no longer written)."""
    top, bottom = codec.analyse(rgb)
    streams = [
        words_to_bytes(encode_map(codec.model.prior_top, top, None).words),
        words_to_bytes(encode_map(codec.model.prior_bottom, bottom, top).words),
    ]
    header = bitstream.Header(
        model_id=codec.entry.model_id,
        fingerprint=codec.entry.fingerprint_v1,
        colour=colour,
        width=rgb.shape[1],
        height=rgb.shape[0],
        tile=0,
        lengths=(tuple(len(s) for s in streams),),
        arithmetic=bitstream.ARITHMETIC_FLOAT,
        version=1,
    )
    crc = bitstream.crc_of(header.pack_fields(), index_bytes([top, bottom]))
    return bitstream.pack(header, [streams], crc)
