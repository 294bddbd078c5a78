"""The package's exception types. Every failure a user can cause raises a `VQCodecError`."""


class VQCodecError(Exception):
    """Base class: a clear, one-line message for the user; never a bug in vqcodec."""


class ImageInputError(VQCodecError):
    """The input image cannot be read or coded (missing, not an image, unsupported, too big)."""


class FormatError(VQCodecError):
    """The data is not a .vqz file this version can read (magic, version, header, length)."""


class CorruptStreamError(FormatError):
    """The file is structurally valid but its payload is damaged (CRC mismatch, bad stream)."""


class FormatLimitError(VQCodecError):
    """An image whose file would break the format's limits (say, more payload bytes per pixel
    than any reader accepts): refused by the writer, so no file is written that cannot be read."""


class OutputError(VQCodecError):
    """The output cannot be written there (a folder, a device, a link, a missing folder)."""


class ModelError(VQCodecError):
    """The requested or referenced model is not installed, or its weights do not match."""


class RateError(VQCodecError):
    """A size or rate target that no installed model can reach."""


class InputTypeError(VQCodecError, TypeError):
    """An argument of the wrong type (say, a str where bytes are needed); both `except
    VQCodecError` and `except TypeError` catch it."""


class InputReadError(VQCodecError):
    """A .vqz input given as a path or file object cannot be read (missing, a folder, no
    permission, an I/O error)."""


def shown_path(path: object) -> str:
    """A path for a one-line message (a 5000-character name is cut)."""
    text = str(path)
    return text if len(text) <= 200 else text[:120] + "..." + text[-40:]


def read_failure(exc: BaseException) -> str:
    """Why a read failed, for a one-line message (a closed file raises ValueError)."""
    text = getattr(exc, "strerror", None) or str(exc)
    return "the file is closed" if "closed file" in text else text
