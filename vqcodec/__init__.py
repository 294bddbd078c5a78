"""vqcodec: a learned image codec (hierarchical VQ-VAE, PixelCNN priors, range coding).

import vqcodec
data = vqcodec.compress("photo.png")    # bytes of a .vqz file
image = vqcodec.decompress(data)        # PIL.Image.Image
"""

from vqcodec.api import compress, compress_image, decompress, info, load_codec
from vqcodec.errors import (
    CorruptStreamError,
    FormatError,
    ImageInputError,
    ModelError,
    VQCodecError,
)

__all__ = [
    "CorruptStreamError",
    "FormatError",
    "ImageInputError",
    "ModelError",
    "VQCodecError",
    "compress",
    "compress_image",
    "decompress",
    "info",
    "load_codec",
]
