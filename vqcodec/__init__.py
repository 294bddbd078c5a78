"""vqcodec: a learned image codec (hierarchical VQ-VAE, PixelCNN priors, range coding).

import vqcodec
data = vqcodec.compress("photo.png")    # bytes of a .vqz file
image = vqcodec.decompress(data)        # PIL.Image.Image
Image.open("photo.vqz")                 # Pillow reads and writes .vqz once vqcodec is imported
"""

from vqcodec import pillow_plugin
from vqcodec.api import compress, compress_image, decompress, info, load_codec
from vqcodec.errors import (
    CorruptStreamError,
    FormatError,
    ImageInputError,
    InputReadError,
    InputTypeError,
    ModelError,
    VQCodecError,
)

pillow_plugin.register()

__all__ = [
    "CorruptStreamError",
    "FormatError",
    "ImageInputError",
    "InputReadError",
    "InputTypeError",
    "ModelError",
    "VQCodecError",
    "compress",
    "compress_image",
    "decompress",
    "info",
    "load_codec",
]
