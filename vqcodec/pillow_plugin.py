"""A Pillow plugin for .vqz files, registered when `vqcodec` is imported.

    import vqcodec
    from PIL import Image
    with Image.open("photo.vqz") as im:      # reads only the header: size, mode, info["model"]
        im.save("photo.png")                # the pixels are decoded here, on load()
    Image.open("photo.png").save("small.vqz", quality=1)   # or model="s8-t512-b1024"

Registered as Pillow registers its own formats (open with a magic-byte check, a decoder
that pulls the whole file, save, extension, MIME type). Save options: `quality` (the rate
ladder, not JPEG's 0..100), `model`, `refine_step`, `bpp` or `max_bytes` (rate control),
`drop_alpha`.
Errors are vqcodec's own (`VQCodecError`).
"""

from __future__ import annotations

from typing import IO

from PIL import Image, ImageFile

from vqcodec import bitstream

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
        header, _, _ = bitstream.read_header(self.fp.read)
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


def register() -> None:
    Image.register_open(FORMAT, VqzImageFile, _accept)
    Image.register_decoder(_DECODER, VqzDecoder)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, ".vqz")
    Image.register_mime(FORMAT, MIME)
