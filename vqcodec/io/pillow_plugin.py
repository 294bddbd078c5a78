"""A Pillow plugin for .vqz files, registered when `vqcodec` is imported.

    import vqcodec
    from PIL import Image
    with Image.open("photo.vqz") as im:      # reads only the header: size, mode, info["model"]
        im.save("photo.png")                # the pixels are decoded here, on load()
    Image.open("photo.png").save("small.vqz", quality=1)   # or model="s8-t512-b1024"

Registered as Pillow registers its own formats (open with a magic-byte check, a decoder
that pulls the whole file, save, save_all for single-frame images, extension, MIME type). Save
options: `quality` (a level of the rate ladder, `vqcodec models`, not JPEG's 0..100), `model`,
`refine_step`, `bpp` or `max_bytes` (rate control), `drop_alpha`.

Pillow conventions: a file that starts like a .vqz file but is not one raises Pillow's own
`UnidentifiedImageError` from `Image.open`; errors while decoding or encoding are vqcodec's
(`VQCodecError`). Pillow opens (and so empties) a save's target before a plugin runs; for .vqz
targets given by name, the image is encoded first and the file written atomically after, so a
failed save leaves an existing file as it was.
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path
from typing import IO, Any

from PIL import Image, ImageFile

from vqcodec.errors import FormatError
from vqcodec.format import bitstream

FORMAT = "VQZ"
MIME = "image/x-vqz"
_DECODER = "vqz"


def _accept(prefix: bytes) -> bool:
    return prefix[: len(bitstream.MAGIC)] == bitstream.MAGIC


def _model_name(model_id: int) -> str:
    from vqcodec import zoo
    from vqcodec.errors import ModelError

    try:
        return zoo.by_id(model_id).name
    except ModelError:
        return f"id {model_id} (not installed)"


class VqzImageFile(ImageFile.ImageFile):
    """A .vqz file opened by Pillow: the header now, the pixels on `load()`."""

    format = FORMAT
    format_description = "vqcodec learned image codec"

    def _open(self) -> None:
        try:
            header = bitstream.read_header(self.fp.read).header
        except FormatError as exc:  # Pillow tries the next plugin, then UnidentifiedImageError
            raise SyntaxError(str(exc)) from None
        self._size = (header.width, header.height)
        self._mode = "L" if header.colour == bitstream.COLOUR_GRAY else "RGB"
        self.info["model"] = _model_name(header.model_id)
        self.tile = [ImageFile._Tile(_DECODER, (0, 0, *self.size), 0, None)]


class VqzDecoder(ImageFile.PyDecoder):
    """Decodes the whole file at once (the priors need all of it), reading it from the start."""

    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        from vqcodec.api import decompress

        assert self.fd is not None
        self.set_as_raw(decompress(self.fd).tobytes())
        return -1, 0


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from vqcodec.api import compress

    options = im.encoderinfo
    fp.write(
        compress(
            im,
            model=options.get("model"),
            quality=options.get("quality"),
            bpp=options.get("bpp"),
            max_bytes=options.get("max_bytes"),
            drop_alpha=options.get("drop_alpha", False),
            refine_step=options.get("refine_step"),
        )
    )


def _save_all(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    """save_all=True: a .vqz file holds one image, so only single-frame images are saved."""
    frames = getattr(im, "n_frames", 1) + len(im.encoderinfo.get("append_images", ()))
    if frames > 1:
        from vqcodec.errors import InputTypeError

        raise InputTypeError(f"a .vqz file holds one image, not {frames} frames")
    _save(im, fp, filename)


def _is_vqz_path(fp: object, format: str | None) -> bool:
    """Whether a save goes to a .vqz file named by a path (a file object is the caller's)."""
    if not isinstance(fp, str | bytes | os.PathLike):
        return False
    if format is not None:
        return format.upper() == FORMAT
    return os.path.splitext(os.fsdecode(fp))[1].lower() == ".vqz"


def _encode_first(save: Any) -> Any:
    """Wrap `Image.Image.save` so that a .vqz target named by a path is encoded in memory
    first and written atomically after (Pillow itself truncates the target before the
    plugin runs, so a failing encode would leave an empty file)."""

    @functools.wraps(save)
    def wrapper(self: Image.Image, fp: Any, format: str | None = None, **params: Any) -> None:
        if not _is_vqz_path(fp, format) or params.get("append"):
            return save(self, fp, format, **params)
        from vqcodec.io.fileio import write_atomic

        buffer = io.BytesIO()
        save(self, buffer, FORMAT, **params)
        write_atomic(Path(os.fsdecode(fp)), buffer.getvalue(), overwrite=True)
        return None

    wrapper.__vqcodec_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper


def register() -> None:
    Image.register_open(FORMAT, VqzImageFile, _accept)
    Image.register_decoder(_DECODER, VqzDecoder)
    Image.register_save(FORMAT, _save)
    Image.register_save_all(FORMAT, _save_all)
    if not getattr(Image.Image.save, "__vqcodec_wrapped__", False):
        Image.Image.save = _encode_first(Image.Image.save)  # type: ignore[method-assign]
    Image.register_extension(FORMAT, ".vqz")
    Image.register_mime(FORMAT, MIME)
