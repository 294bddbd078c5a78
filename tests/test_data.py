"""The training data helpers: listing, the held-out split, the downscaled held-out images."""

import numpy as np
from PIL import Image

from vqcodec.training.data import CropDataset, holdout_images, list_images, split_holdout

from .conftest import photo


def test_split_holds_out_every_twentieth_image_in_sorted_order(tmp_path):
    for i in range(41):
        Image.fromarray(photo(8, 8, seed=i)).save(tmp_path / f"{i:02d}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    paths = list_images(tmp_path)
    train, val = split_holdout(paths)
    assert [p.name for p in val] == ["00.png", "20.png", "40.png"]
    assert len(train) == 38 and not set(train) & set(val)


def test_holdout_images_are_downscaled_cropped_and_small_ones_left_out(tmp_path):
    sizes = {"00.png": (1800, 1200), "20.png": (250, 300)}  # the second is 125 wide halved
    for i in range(21):
        w, h = sizes.get(f"{i:02d}.png", (64, 64))
        Image.fromarray(photo(h, w, seed=i)).save(tmp_path / f"{i:02d}.png")
    images = holdout_images(tmp_path)
    assert [name for name, _ in images] == ["00.png"]
    name, rgb = images[0]
    assert rgb.shape == (512, 768, 3) and rgb.dtype == np.uint8
    expected = Image.open(tmp_path / name).resize((900, 600), Image.LANCZOS)
    np.testing.assert_array_equal(rgb, np.asarray(expected)[:512, :768])


def test_crop_pool_takes_downscaled_copies_where_they_still_hold_a_crop(tmp_path):
    paths = []
    for i, (h, w) in enumerate([(96, 128), (40, 64), (20, 20)]):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(photo(h, w, seed=i)).save(paths[-1])
    plain = CropDataset(paths, crop=32)
    assert len(plain.images) == 2 and plain.skipped == 1
    both = CropDataset(paths, crop=32, downscale=2)
    assert [tuple(t.shape[1:]) for t in both.images] == [(96, 128), (48, 64), (40, 64)]
    assert both.skipped == 3  # 20x20, its half, and the 40x64 photo's 20x32 half
    assert both.batch(4).shape == (4, 3, 32, 32)
