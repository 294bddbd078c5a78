"""Probes of issue 21's levers: what each could buy, measured before it is built.

    python benchmarks/lever_probes.py --data ../shared/data/train PROBE [PROBE ...]

PROBE is one of:

  hull          the ladder's (model, rate weights, step) against every other such point:
                mean bpp and PSNR of the whole shipped chain, and each point's PSNR against the
                ladder's curve at the same rate (positive: the ladder misses a better point)
  block-size    the refinement alone with 16x16 DCT blocks instead of 8x8 (the band groups
                stretched to 256 bands) on the same base: BD-rate of the whole file
  net-strength  the restoration network with a per-image choice of its conditioning step
                (x 0.5 to 2) or of a blend weight on its correction (in 1/8): the mean PSNR
                gain over the shipped network, were the choice free to send
  pixel-index   the bottom map's indices chosen by the synthesis's pixel error (one gradient
                of the decoded image's squared error through the synthesis, moving each
                latent's target along it) instead of by latent distance: base PSNR and bits

All on the held-out training images downscaled 2x (`training.data.holdout_images`), never
Kodak. Each probe writes its key of benchmarks/results/lever_probes.json. The numbers and what
was concluded from them are in docs/DESIGN.md, section 3f.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqcodec import zoo
from vqcodec.api import load_codec
from vqcodec.bench.bench import rate_difference
from vqcodec.bench.envinfo import environment
from vqcodec.bench.evaluate import psnr_rgb
from vqcodec.format.bitstream import COLOUR_RGB
from vqcodec.layers import Frame, restore_net
from vqcodec.layers import refine as R
from vqcodec.layers.refinement import STEP, RefinementLayer
from vqcodec.model.codec import DEFAULT_TILE
from vqcodec.pipeline import Settings, analyse
from vqcodec.training.data import (
    downscaled_images,
    holdout_images,
    list_images,
    split_holdout,
)

OUT = Path(__file__).parent / "results" / "lever_probes.json"
DEFAULT = "s4-t64-b32-v2"
HULL_POINTS = [  # (model, rate weights): the ladder's and their neighbours
    ("s8-t512-b1024", (0.0, 1.0)),
    ("s8-t512-b1024", (0.0, 0.25)),
    (DEFAULT, (0.0, 0.0)),
    (DEFAULT, (0.0, 0.25)),
    (DEFAULT, (0.0, 0.5)),
    ("s4-t512-b512", (2.0, 0.0)),
]
HULL_STEPS = [None, 256, 192, 160, 128, 96, 80, 64, 48, 40, 32, 24, 16, 12, 8]
Images = list[tuple[str, np.ndarray]]


def _mean(points: list[tuple[float, float]]) -> list[float]:
    return [round(float(v), 5) for v in np.mean(points, axis=0)]


def hull(images: Images) -> dict:
    curves: dict[str, dict[str, list[float]]] = {}
    for model, weights in HULL_POINTS:
        codec, t0 = load_codec(model), time.time()
        points: dict[str, list] = {str(s): [] for s in HULL_STEPS}
        for _, rgb in images:
            found = analyse(rgb, COLOUR_RGB, codec, DEFAULT_TILE, weights)
            for s in HULL_STEPS:
                compressed, image = found.file(Settings(s))
                points[str(s)].append((compressed.bpp, psnr_rgb(rgb, image)))
        curves[f"{model} {list(weights)}"] = {s: _mean(p) for s, p in points.items()}
        print(f"{model} {weights}: {time.time() - t0:.0f} s", flush=True)
    ladder = []
    for p in zoo.presets():
        weights = list(p.rate_weights or zoo.get(p.model).rate_weights)
        ladder.append(curves[f"{p.model} {weights}"][str(p.refine_step and int(p.refine_step))])
    bpp, psnr = np.array(ladder).T
    above = {
        key: {
            s: round(float(q - np.interp(np.log(b), np.log(bpp), psnr)), 3)
            for s, (b, q) in curve.items()
            if bpp.min() <= b <= bpp.max()
        }
        for key, curve in curves.items()
    }
    best = max(v for row in above.values() for v in row.values())
    print(f"largest PSNR above the ladder's curve: {best:+.3f} dB")
    return {"curves": curves, "ladder": ladder, "psnr_above_ladder_db": above}


def _set_block(size: int, groups: list[int]) -> None:
    """Re-derive the refinement's block-size constants (a probe only: `refine` is written for
    one block size, its module constants are patched here)."""
    R.BLOCK = size
    k, n = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    R._DCT = np.sqrt(np.where(k == 0, 1, 2) / size) * np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    R.ZIGZAG = sorted(
        ((i, j) for i in range(size) for j in range(size)),
        key=lambda t: (t[0] + t[1], t[1] if (t[0] + t[1]) % 2 else t[0]),
    )
    R._ZIGZAG_FLAT = np.array([i * size + j for i, j in R.ZIGZAG])
    R._BASIS = np.einsum("ki,lj->klij", R._DCT, R._DCT).reshape(size * size, -1)[R._ZIGZAG_FLAT]
    R.BAND_GROUPS = np.array(groups)
    R.BAND_GROUP = np.searchsorted(R.BAND_GROUPS, np.arange(size * size), side="right")
    R.GROUPS = len(groups)
    R.STRIPE_BLOCKS = 512 // size


BLOCK_GROUPS = {
    8: [int(g) for g in R.BAND_GROUPS],
    16: [1, 2, 3, 4, 6, 8, 10, 15, 21, 28, 45, 66, 91, 120, 153, 190, 256],
}
BLOCK_STEPS = [192, 128, 80, 48, 32, 24, 16]


def block_size(images: Images) -> dict:
    codec = load_codec(DEFAULT)
    found = [analyse(rgb, COLOUR_RGB, codec) for _, rgb in images]
    bare = Settings(None, False, frozenset({"restore-net"}))
    map_bpp = float(np.mean([f.file(bare)[0].bpp for f in found]))
    curves = {}
    try:
        for size, groups in BLOCK_GROUPS.items():
            _set_block(size, groups)
            curve = []
            for step in BLOCK_STEPS:
                points = []
                for f in found:
                    layer, out, _ = R.encode(f.rgb, f.base.pixels, step, 3)
                    bits = 8 * sum(len(s) for s in layer.streams)
                    points.append((map_bpp + bits / f.rgb[..., 0].size, psnr_rgb(f.rgb, out)))
                curve.append(_mean(points))
            curves[str(size)] = curve
    finally:
        _set_block(8, BLOCK_GROUPS[8])
    (b8, p8), (b16, p16) = (np.array(curves[k]).T.tolist() for k in ("8", "16"))
    value, method = rate_difference(b8, p8, b16, p16)
    print(f"16x16 against 8x8: {value:+.2f} % ({method})")
    return {"steps": BLOCK_STEPS, "map_bpp": map_bpp, "curves": curves,
            "rate_16_vs_8_percent": {"value": value, "method": method}}  # fmt: skip


FACTORS = [0.5, 0.7, 1.0, 1.4, 2.0]
STRENGTH_STEPS = [160, 80, 48, 32, 24, 16]


def net_strength(images: Images) -> dict:
    entry = zoo.latest_network("restore-net")
    net = restore_net.load(zoo.verified_network(entry))
    codec = load_codec(DEFAULT)
    found = [analyse(rgb, COLOUR_RGB, codec) for _, rgb in images]
    rows = []
    for step in STRENGTH_STEPS:
        gains: dict[str, list[float]] = {"network": [], "best_factor": [], "best_blend": []}
        for f in found:
            frame = Frame(f.rgb.shape[1], f.rgb.shape[0], 3, f.base.pixels, f.rgb)
            frame.side[STEP] = step
            RefinementLayer().encode(frame, step)
            refined = frame.image
            outs = {k: net.apply(refined, step * k) for k in FACTORS}
            psnr = {k: psnr_rgb(f.rgb, o) for k, o in outs.items()}
            gains["network"].append(psnr[1.0] - psnr_rgb(f.rgb, refined))
            gains["best_factor"].append(max(psnr.values()) - psnr[1.0])
            change = outs[1.0].astype(np.float64) - refined
            error = f.rgb.astype(np.float64) - refined
            alpha = np.round(8 * (change * error).sum() / max((change**2).sum(), 1e-9)) / 8
            blended = np.clip(np.round(refined + alpha * change), 0, 255).astype(np.uint8)
            gains["best_blend"].append(psnr_rgb(f.rgb, blended) - psnr[1.0])
        row = {"step": step, **{k: round(float(np.mean(v)), 4) for k, v in gains.items()}}
        rows.append(row)
        print(row, flush=True)
    return {"network": entry.name, "factors": FACTORS, "gain_db": rows}


PIXEL_IMAGES = 4
MOVES = [0.25, 0.5, 1.0]  # the target's move along the gradient, in mean codeword spacings


def _decoded_score(codec, rgb: np.ndarray, maps: list[torch.Tensor]) -> tuple[float, float]:
    """(PSNR of the synthesis alone, bpp of the maps) of these indices."""
    h, w = rgb.shape[:2]
    with torch.no_grad():
        y = codec.model.vqvae.decode([m[None] for m in maps])
    image = (y.clamp(0, 1)[0, :, :h, :w] * 255).round().permute(1, 2, 0).byte().numpy()
    return psnr_rgb(rgb, image), codec.teacher_forced_bits(maps) / (h * w)


def _pixel_step(codec, x: torch.Tensor, maps, latents, move: float, spacing: float):
    """The bottom map re-chosen as the codewords nearest to the latents moved `move` codeword
    spacings down the gradient of the synthesis's squared error (normalized per position)."""
    quantizers = codec.quantizers()
    pairs = zip(quantizers, maps, strict=True)
    words = [q.lookup(m[None]).detach().requires_grad_() for q, m in pairs]
    ((codec.model.vqvae._synthesize(words) - x) ** 2).sum().backward()
    grad = words[-1].grad[0].permute(1, 2, 0)
    grad = grad / grad.square().sum(-1, keepdim=True).mean().sqrt()
    codebook = quantizers[-1].codebook
    target = (latents - move * spacing * grad).reshape(-1, codebook.shape[1])
    return [*maps[:-1], torch.cdist(target, codebook).argmin(1).reshape(maps[-1].shape)]


def pixel_index(images: Images) -> dict:
    codec = load_codec(DEFAULT)
    codebook = codec.quantizers()[-1].codebook
    spacing = float(torch.cdist(codebook, codebook).topk(2, largest=False).values[:, 1].mean())
    rows = []
    for name, rgb in images[:PIXEL_IMAGES]:
        x, maps = codec._input(rgb), codec.analyse(rgb)
        latents = codec.latents(rgb, maps[:1])
        psnr0, bpp0 = _decoded_score(codec, rgb, maps)
        row: dict = {"image": name, "nearest": {"psnr": psnr0, "bpp": bpp0}}
        for move in MOVES:
            chosen = maps
            for _ in range(2):
                chosen = _pixel_step(codec, x, chosen, latents, move, spacing)
            psnr, bpp = _decoded_score(codec, rgb, chosen)
            row[str(move)] = {
                "psnr_db": round(psnr - psnr0, 3),
                "bits_percent": round(100 * (bpp / bpp0 - 1), 2),
                "changed": round(float((chosen[-1] != maps[-1]).float().mean()), 3),
            }
        rows.append(row)
        print(row, flush=True)
    return {"moves": MOVES, "images": rows}


CONTEXT_STEPS = [128, 80, 48, 24, 12]
CONTEXT_BUCKETS = [2, 3, 4, 6]
FIT_IMAGES = 40  # training-split photos the map table is fitted on


def _block_energy(rgb: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Squared residual of every 8x8 block (blocks down, blocks across), all channels."""
    res = R._padded(rgb.astype(np.float64) - base)
    h, w = res.shape[:2]
    return (res**2).reshape(h // 8, 8, w // 8, 8, 3).sum(axis=(1, 3, 4))


def _map_features(maps: list[torch.Tensor], bh: int, bw: int, codes: tuple[int, int]):
    """One-hot features of every block's top code and (a quarter each) its four bottom codes."""
    top, bottom = (np.asarray(m).squeeze() for m in maps)
    rows = np.arange(bh * bw)
    x = np.zeros((bh * bw, codes[0] + codes[1]))
    t = np.zeros((bh, bw), np.int64)
    t[: top.shape[0], : top.shape[1]] = top[:bh, :bw]
    x[rows, t.reshape(-1)] = 1
    for dy, dx in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        b = np.zeros((bh, bw), np.int64)
        sub = bottom[dy::2, dx::2][:bh, :bw]
        b[: sub.shape[0], : sub.shape[1]] = sub
        np.add.at(x, (rows, codes[0] + b.reshape(-1)), 0.25)
    return x


def _coder_bits(symbols: np.ndarray, classes: np.ndarray, count: int) -> float:
    """Bits of the refinement's symbols as `refine.choose_members` counts them."""
    present = np.bincount(classes.reshape(-1), minlength=count) > 0
    return float(R.member_costs(symbols, classes, count).min(axis=1)[present].sum())


def _training_split(folder: Path, count: int) -> Images:
    """`count` photos of the training split, spread over it, prepared as the held-out ones."""
    paths = split_holdout(list_images(folder))[0]
    return downscaled_images(paths[:: max(1, len(paths) // count)][:count])


def map_context(images: Images, data: Path) -> dict:
    codec = load_codec(DEFAULT)
    codes = tuple(int(q.codebook.shape[0]) for q in codec.quantizers())

    def prepared(imgs: Images) -> list:
        found = [analyse(rgb, COLOUR_RGB, codec, rate_weights=(0.0, 0.0)) for _, rgb in imgs]
        return [(f.rgb, f.base.pixels, [m.numpy() for m in f.maps]) for f in found]

    xs, ys = [], []
    for rgb, base, maps in prepared(_training_split(data, FIT_IMAGES)):
        energy = _block_energy(rgb, base)
        xs.append(_map_features(maps, *energy.shape, codes))
        ys.append(np.log2(1 + energy.reshape(-1)))
    x, y = np.concatenate(xs), np.concatenate(ys)
    table = np.linalg.solve(x.T @ x + 1e-3 * np.eye(x.shape[1]), x.T @ y)
    explained = 1 - np.var(y - x @ table) / np.var(y)
    fitted = x @ table
    edges = {k: np.quantile(fitted, np.linspace(0, 1, k + 1)[1:-1]) for k in CONTEXT_BUCKETS}
    held = prepared(images)
    rows = []
    for step in CONTEXT_STEPS:
        bits = {"shipped": 0.0, "oracle_4": 0.0, **{f"maps_{k}": 0.0 for k in CONTEXT_BUCKETS}}
        for rgb, base, maps in held:
            q = R.rd_quantize(R.forward(rgb.astype(np.float64) - base, 3), step)
            symbols, classes = R._symbols_and_classes(q)
            count = R.classes_count(3)
            bits["shipped"] += _coder_bits(symbols, classes, count)
            predicted = _map_features(maps, *q.shape[1:3], codes) @ table
            for k in CONTEXT_BUCKETS:
                bucket = np.tile(np.searchsorted(edges[k], predicted), 3)  # channel-major blocks
                bits[f"maps_{k}"] += _coder_bits(symbols, classes * k + bucket, count * k)
            energy = np.log2(1 + _block_energy(rgb, base).reshape(-1))
            truth = np.tile(np.searchsorted(np.quantile(energy, [0.25, 0.5, 0.75]), energy), 3)
            bits["oracle_4"] += _coder_bits(symbols, classes * 4 + truth, count * 4)
        row = {"step": step, "shipped_bits": round(bits["shipped"])}
        row |= {
            k: round(100 * (v / bits["shipped"] - 1), 2) for k, v in bits.items() if k != "shipped"
        }
        rows.append(row)
        print(row, flush=True)
    return {"fit_images": FIT_IMAGES, "table_r2": round(float(explained), 3),
            "refinement_bits_percent": rows}  # fmt: skip


AVIF_QUALITIES = [30, 45, 60, 70, 80, 88, 95]
AVIF_STEPS = [160, 96, 64, 40, 24, 16, 12]


def avif_residual(images: Images) -> dict:
    codec = load_codec(DEFAULT)
    found = [analyse(rgb, COLOUR_RGB, codec) for _, rgb in images]
    bare = Settings(None, False, frozenset({"restore-net"}))
    map_bits = [8 * len(f.file(bare)[0].data) for f in found]

    def curve(code: Callable[[np.ndarray, np.ndarray, object], tuple[int, np.ndarray]], params):
        out = []
        for p in params:
            points = []
            for f, bits in zip(found, map_bits, strict=True):
                extra, image = code(f.rgb, f.base.pixels, p)
                points.append(((bits + extra) / f.rgb[..., 0].size, psnr_rgb(f.rgb, image)))
            out.append(_mean(points))
        return out

    def dct(rgb, base, step):
        layer, image, _ = R.encode(rgb, base, step, 3)
        return 8 * sum(len(s) for s in layer.streams), image

    def avif(rgb, base, quality):
        residual = np.clip(rgb.astype(np.int16) - base, -127, 127) + 128
        buf = io.BytesIO()
        Image.fromarray(residual.astype(np.uint8)).save(
            buf, "AVIF", quality=quality, speed=2, subsampling="4:4:4"
        )
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            decoded = np.asarray(im.convert("RGB")).astype(np.int16) - 128
        return 8 * len(buf.getvalue()), np.clip(base + decoded, 0, 255).astype(np.uint8)

    curves = {"dct": curve(dct, AVIF_STEPS), "avif444": curve(avif, AVIF_QUALITIES)}
    (b0, p0), (b1, p1) = (np.array(curves[k]).T.tolist() for k in ("dct", "avif444"))
    value, method = rate_difference(b0, p0, b1, p1)
    print(f"AVIF on the residual against the DCT refinement: {value:+.2f} % ({method})")
    return {"steps": AVIF_STEPS, "qualities": AVIF_QUALITIES, "curves": curves,
            "avif_vs_dct_percent": {"value": value, "method": method}}  # fmt: skip


PROBES: dict[str, Callable[..., dict]] = {
    "hull": hull,
    "block-size": block_size,
    "net-strength": net_strength,
    "pixel-index": pixel_index,
    "map-context": map_context,
    "avif-residual": avif_residual,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("probes", nargs="+", choices=sorted(PROBES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = holdout_images(args.data)
    report = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in args.probes:
        report[name] = {"env": environment(), "images": [n for n, _ in images]}
        extra = (args.data,) if name == "map-context" else ()
        report[name].update(PROBES[name](images, *extra))
        OUT.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
