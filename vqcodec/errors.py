"""The package's exception types. Every failure a user can cause raises a `VQCodecError`."""


class VQCodecError(Exception):
    """Base class: a clear, one-line message for the user; never a bug in vqcodec."""


class ImageInputError(VQCodecError):
    """The input image cannot be read or coded (missing, not an image, unsupported, too big)."""


class FormatError(VQCodecError):
    """The data is not a .vqz file this version can read (magic, version, header, length)."""


class CorruptStreamError(FormatError):
    """The file is structurally valid but its payload is damaged (CRC mismatch, bad stream)."""


class ModelError(VQCodecError):
    """The requested or referenced model is not installed, or its weights do not match."""
