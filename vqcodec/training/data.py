"""Training images: a folder of photos held in memory as uint8, served as random crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


def list_images(folder: str | Path) -> list[Path]:
    """Image files under `folder`, recursively, in a stable (sorted) order."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def split_holdout(paths: list[Path], every: int = 20) -> tuple[list[Path], list[Path]]:
    """Deterministic train/validation split: every `every`-th image is held out."""
    val = paths[::every]
    train = [p for i, p in enumerate(paths) if i % every]
    return train, val


def holdout_images(
    folder: str | Path, factor: int = 2, min_side: int = 128
) -> list[tuple[str, np.ndarray]]:
    """(name, RGB array) of the validation split's images as coder choices are measured on them:
    downscaled by `factor` (Lanczos), cropped to Kodak's 768x512, those under `min_side` pixels
    on a side after it left out. The training photos are decoded JPEGs or JPEG-origin: at full
    size their 8x8 grid favours an 8x8 DCT coder (docs/DESIGN.md, section 3d); downscaling
    removes it."""
    return downscaled_images(split_holdout(list_images(folder))[1], factor, min_side)


def downscaled_images(
    paths: list[Path], factor: int = 2, min_side: int = 128
) -> list[tuple[str, np.ndarray]]:
    """(name, RGB array) of `paths` prepared as `holdout_images` prepares the held-out ones."""
    out = []
    for path in paths:
        with Image.open(path) as im:
            image = im.convert("RGB")
        image = image.resize((image.width // factor, image.height // factor), Image.LANCZOS)
        if min(image.size) >= min_side:
            out.append((path.name, np.asarray(image)[:512, :768]))
    return out


class CropDataset:
    """Random `crop` x `crop` patches with horizontal flips; smaller images are skipped.

    With `downscale` > 1 every photo also joins the pool downscaled by that factor (Lanczos),
    where it still holds a crop. The training photos are decoded JPEGs or JPEG-origin: their
    8x8 grid and ringing are in every full-size crop, and a synthesis network trained only on
    them learns to draw that grid; downscaling removes it, as Balle et al. (ICLR 2018)
    downsampled their training images to remove compression artefacts."""

    def __init__(self, paths: list[Path], crop: int, seed: int = 0, downscale: int = 1) -> None:
        self.crop = crop
        self.images: list[torch.Tensor] = []
        self.skipped = 0
        for p in paths:
            with Image.open(p) as im:
                image = im.convert("RGB")
            versions = [image]
            if downscale > 1:
                size = (image.width // downscale, image.height // downscale)
                versions.append(image.resize(size, Image.LANCZOS))
            for version in versions:
                if min(version.size) < crop:
                    self.skipped += 1
                    continue
                arr = np.asarray(version)
                self.images.append(torch.from_numpy(arr.copy()).permute(2, 0, 1))  # (3, H, W)
        if not self.images:
            raise ValueError(f"no training image is at least {crop}x{crop}")
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        """(size, 3, crop, crop) float in [0, 1]."""
        out = torch.empty(size, 3, self.crop, self.crop)
        for b in range(size):
            img = self.images[self.rng.integers(len(self.images))]
            y = self.rng.integers(img.shape[1] - self.crop + 1)
            x = self.rng.integers(img.shape[2] - self.crop + 1)
            patch = img[:, y : y + self.crop, x : x + self.crop]
            if self.rng.random() < 0.5:
                patch = patch.flip(2)
            out[b] = patch.float() / 255.0
        return out


def load_full(path: Path, multiple: int = 8, max_side: int = 512) -> torch.Tensor:
    """A whole validation image, centre-cropped to a multiple of `multiple`, at most `max_side`."""
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    h = min(arr.shape[0], max_side) // multiple * multiple
    w = min(arr.shape[1], max_side) // multiple * multiple
    y0, x0 = (arr.shape[0] - h) // 2, (arr.shape[1] - w) // 2
    arr = arr[y0 : y0 + h, x0 : x0 + w]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().unsqueeze(0) / 255.0
