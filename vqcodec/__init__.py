"""vqcodec: a learned image codec (hierarchical VQ-VAE, PixelCNN priors, range coding).

import vqcodec
data = vqcodec.compress("photo.png")    # bytes of a .vqz file
image = vqcodec.decompress(data)        # PIL.Image.Image
Image.open("photo.vqz")                 # Pillow reads and writes .vqz once vqcodec is imported
"""

from typing import TYPE_CHECKING

from vqcodec.errors import (
    CorruptStreamError,
    FormatError,
    ImageInputError,
    InputReadError,
    InputTypeError,
    ModelError,
    VQCodecError,
)
from vqcodec.io import pillow_plugin

pillow_plugin.register()

if TYPE_CHECKING:
    from vqcodec.api import compress, compress_image, decompress, info, load_codec

_API = {"compress", "compress_image", "decompress", "info", "load_codec"}


def __getattr__(name: str) -> object:
    """The API, imported on first use: `import vqcodec` (and the CLI's checks of a file before
    decoding it) stay free of torch, which takes 250 MB and two seconds to import."""
    import importlib

    if name in _API:
        return getattr(importlib.import_module("vqcodec.api"), name)
    try:  # a submodule not imported yet (`vqcodec.api`, ...), as before the API loaded lazily
        return importlib.import_module(f"vqcodec.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"vqcodec.{name}":  # the submodule exists but needs something missing
            raise
        raise AttributeError(f"module 'vqcodec' has no attribute {name!r}") from None


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
