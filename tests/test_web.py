"""The browser decoder (web/, exported by vqcodec.web_export) in headless Chromium.

Every decoded integer (code maps, refinement coefficients, filter weights) must equal vqcodec's,
and the pixels (after every layer: refinement, restoration network, filter) be within one level
of `vqcodec.decompress`; damaged files must end in a one-line error on the page. Needs Debian's
chromium (/usr/bin/chromium) and the `playwright` Python package (no `playwright install`);
skipped without them.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

from PIL import Image  # noqa: E402

from vqcodec import api  # noqa: E402
from vqcodec.format import bitstream  # noqa: E402
from vqcodec.format.bitstream import LayerRecord  # noqa: E402
from vqcodec.layers import refine, restore  # noqa: E402
from vqcodec.web_export import export_web  # noqa: E402

from .conftest import KODAK  # noqa: E402

DATA = Path(__file__).parent / "data"
ZOO = json.loads((Path(__file__).resolve().parents[1] / "models" / "zoo.json").read_text())
SHIPPED = {m["id"] for m in ZOO["models"]}
GOLDEN = sorted(p for p in DATA.glob("golden_v[2-6]*.vqz"))
NETWORK_ID = 2  # the restoration network's layer record (FORMAT.md 2.2)
HISTOGRAM: dict[str, list[int]] = {}

# the page's last result, integers as base64 of little-endian int32
LAST = """() => {
  const r = window.vqzLast;
  if (!r || r.error) return r;
  const b64 = (a) => {
    const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let s = '';
    for (let i = 0; i < u.length; i += 32768) s += String.fromCharCode(...u.subarray(i, i + 32768));
    return btoa(s);
  };
  return { width: r.width, height: r.height, channels: r.channels, facts: r.facts,
    pixels: b64(r.pixels), maps: r.debug.maps.map(b64), coefficients: r.debug.coefficients.map(b64),
    filter: r.debug.filter && r.debug.filter.map((w) => (w ? Array.from(w) : null)) };
}"""


def ints(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), "<i4")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(browser, the exported page's URL)"""
    site = tmp_path_factory.mktemp("site")
    export_web(site)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser, f"http://127.0.0.1:{server.server_port}/index.html"
        browser.close()
    server.shutdown()


@pytest.fixture(scope="module")
def page(site):
    browser, url = site
    pg = browser.new_page()
    pg.goto(url + "?debug=1&threads=2")  # a pool of two helper workers
    yield pg
    if HISTOGRAM:
        print("\n|browser - vqcodec| pixel histogram (0, 1, 2, ...):")
        for name, hist in HISTOGRAM.items():
            print(f"  {name}: {hist}")


def decode_on_page(page, data: bytes, name: str, timeout_s: float = 30) -> dict:
    page.set_input_files(
        "#file", files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )
    page.wait_for_function(
        "['done', 'error'].includes(document.getElementById('status').dataset.state)",
        timeout=timeout_s * 1000,
    )
    return {
        "state": page.get_attribute("#status", "data-state"),
        "message": page.inner_text("#message"),
        "result": page.evaluate(LAST),
    }


def check_against_vqcodec(page, data: bytes, name: str) -> dict:
    out = decode_on_page(page, data, name)
    assert out["state"] == "done", out["message"]
    r = out["result"]
    assert r["facts"]["threads"] == (1 if "threads=1" in page.url else 2)
    header, _, maps = api.decode_indices(data)
    for mine, theirs in zip(r["maps"], maps, strict=True):
        np.testing.assert_array_equal(ints(mine), theirs.numpy().ravel())
    channels = 1 if header.colour == 1 else 3
    parsed = bitstream.unpack(data)
    streams = parsed.coded(bitstream.REFINEMENT_ID).streams
    assert len(r["coefficients"]) == len(streams)
    for m, (stream, mine) in enumerate(zip(streams, r["coefficients"], strict=True)):
        rows = min(512, header.height - 512 * m)
        expected = refine.decode_stripe(stream, channels, -(-rows // 8), -(-header.width // 8))
        np.testing.assert_array_equal(ints(mine), expected.ravel())
    if filter_streams := parsed.coded(bitstream.FILTER_ID).streams:
        filt = restore.decode(filter_streams[0], channels)
        for mine, theirs in zip(r["filter"], filt.weights, strict=True):
            assert (mine is None) == (theirs is None)
            if mine is not None:
                np.testing.assert_array_equal(mine, np.asarray(theirs).ravel())
    else:
        assert r["filter"] is None
    expected_px = np.asarray(api.decompress(data)).astype(int)
    pixels = np.frombuffer(base64.b64decode(r["pixels"]), np.uint8).astype(int)
    diff = np.abs(pixels.reshape(expected_px.shape) - expected_px)
    layers = [record.layer for record in parsed.header.layers]
    HISTOGRAM[f"{name} (v{data[3]}, layers {layers})"] = hist = np.bincount(diff.ravel()).tolist()
    assert diff.max() <= 1, hist
    network = parsed.header.record(NETWORK_ID)
    assert r["facts"]["network"] == (network.param if network else 0)
    return r


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_files_decode_like_vqcodec(page, path):
    data = path.read_bytes()
    if int.from_bytes(data[4:6], "little") not in SHIPPED:
        out = decode_on_page(page, data, path.name)
        assert out["state"] == "error" and "retired" in out["message"]
        return
    check_against_vqcodec(page, data, path.name)


def test_assets_load_only_for_the_model_a_file_needs_and_from_the_same_origin(site):
    browser, url = site
    context = browser.new_context()
    pg = context.new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(url + "?debug=1&threads=1")  # one thread: no helper workers
    assert not any("/models/" in u for u in requests)
    check_against_vqcodec(pg, (DATA / "golden_v2_s8-t512-b1024.vqz").read_bytes(), "one thread")
    assert pg.evaluate("window.vqzLast.facts.kernels").startswith("wasm-simd")
    assert pg.evaluate("window.vqzLast.facts.threads") == 1
    origin = url.rsplit("/", 1)[0]
    assert all(u.startswith(origin) or u.startswith("data:") for u in requests), requests
    models = {u.split("/models/")[1].split("/")[0] for u in requests if "/models/" in u}
    assert models == {"index.json", "s8-t512-b1024"}  # no network: the file has no layer 2
    check_against_vqcodec(pg, (DATA / "golden_v6_layers.vqz").read_bytes(), "one thread v6")
    assert pg.evaluate("window.vqzLast.facts.network") == 1
    assert all(u.startswith(origin) for u in requests if "/models/" in u), requests
    networks = [u.split("/models/")[1] for u in requests if "/models/networks/" in u]
    assert networks == ["networks/restore-net-1/weights.safetensors"]
    context.close()


@pytest.fixture(scope="module")
def sample() -> Image.Image:
    return Image.open(Path(__file__).resolve().parents[1] / "examples" / "sample.png").convert(
        "RGB"
    )


def test_a_fresh_format_6_file_decodes_like_vqcodec(page, sample):
    data = api.compress(sample.crop((64, 32, 64 + 136, 32 + 104)))  # default level, odd sizes
    assert data[3] == 6
    check_against_vqcodec(page, data, "fresh_q5.vqz")


KODAK_FILES = ["kodim04.png", "kodim15.png", "kodim23.png"]
LEVELS = [1, 5, 9]  # level 1: no refinement (the network's step is 512)
KODAK_LAYERS: dict[str, list[int]] = {}


@pytest.mark.skipif(not KODAK.is_dir(), reason="Kodak images not available")
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("image", KODAK_FILES)
def test_fresh_kodak_encodes_decode_like_vqcodec(page, image, level):
    """Crops of 544 x 200 (two of the network's 512-pixel windows across, FORMAT.md 7.3) of three
    Kodak images at three levels: format 6, with the network where the encoder found it helps."""
    crop = Image.open(KODAK / image).convert("RGB").crop((112, 150, 112 + 544, 150 + 200))
    data = api.compress(crop, quality=level)
    assert data[3] == 6
    name = f"{image[:-4]}_q{level}.vqz"
    KODAK_LAYERS[name] = [r.layer for r in bitstream.unpack(data).header.layers]
    check_against_vqcodec(page, data, name)


def test_most_fresh_kodak_encodes_carry_the_network():
    """(after the encodes above) the encoder keeps layer 2 at most levels, so the check above
    covered the network."""
    if len(KODAK_LAYERS) < len(KODAK_FILES) * len(LEVELS):
        pytest.skip("needs the Kodak encodes above")
    print(f"\nlayers of the fresh Kodak encodes: {KODAK_LAYERS}")
    assert sum(NETWORK_ID in ids for ids in KODAK_LAYERS.values()) > len(KODAK_LAYERS) // 2


def test_a_tall_file_with_stripes_and_windows_decodes_like_vqcodec(page, sample):
    """1040 rows: three refinement stripes, two synthesis windows (FORMAT.md 6.1, 8.2)."""
    tall = np.concatenate([np.asarray(sample)[:, 100:164]] * 5)[:1040]
    data = api.compress(Image.fromarray(tall))
    check_against_vqcodec(page, data, "tall.vqz")


def test_a_grayscale_file_decodes_like_vqcodec(page, sample):
    data = api.compress(sample.crop((0, 0, 96, 72)).convert("L"), quality=9)
    out = decode_on_page(page, data, "gray.vqz")
    assert out["state"] == "done" and out["result"]["channels"] == 1
    check_against_vqcodec(page, data, "gray.vqz")


def forged(data: bytes, edit) -> bytes:
    """A format 6 file with its layer records `edit`ed (records without streams only; the
    others keep theirs), re-sealed: header and payload checks (the whole-file CRC, checked
    after the maps, is left as it was)."""
    p = bitstream.unpack(data)
    streams = dict(zip(p.header.layers, p.layer_streams, strict=True))
    records = tuple(edit(list(p.header.layers)))
    header = replace(p.header, layers=records)
    return bitstream.pack(header, p.streams, p.crc, [streams.get(r, ()) for r in records])


FORGED = {  # a layer this release does not know; a network it does not ship
    "v6 unknown layer": (lambda rs: [*rs, LayerRecord(9)], "unknown layer 9"),
    "v6 unknown network": (
        lambda rs: [LayerRecord(2, 7) if r.layer == 2 else r for r in rs],
        "network 7",
    ),
}


def damaged_variants() -> list[tuple[str, bytes]]:
    v4 = (DATA / "golden_v4_filtered.vqz").read_bytes()
    v6 = (DATA / "golden_v6_layers.vqz").read_bytes()
    buf = io.BytesIO()
    Image.new("RGB", (40, 24), (90, 140, 200)).save(buf, "PNG")
    v5 = api.compress(buf.getvalue())
    flip = lambda d, at: d[:at] + bytes([d[at] ^ 0x20]) + d[at + 1 :]  # noqa: E731
    return [
        ("truncated", v4[: len(v4) - 9]),
        ("header only", v4[:20]),
        ("trailing byte", v4 + b"\0"),
        ("header bit", flip(v4, 9)),
        ("v4 payload bit", flip(v4, len(v4) - 200)),
        ("v4 last byte", flip(v4, len(v4) - 1)),
        ("v5 payload bit", flip(v5, len(v5) - 3)),
        ("v6 truncated", v6[: len(v6) - 5]),
        ("v6 header only", v6[:30]),
        ("v6 record bit", flip(v6, 37)),  # in the layer records: header check
        ("v6 payload bit", flip(v6, len(v6) - 40)),
        ("v6 last byte", flip(v6, len(v6) - 1)),
        *[(name, forged(v6, edit)) for name, (edit, _) in FORGED.items()],
        ("not a vqz", b"\x89PNG\r\n\x1a\n" + bytes(40)),
        ("empty", b""),
    ]


@pytest.mark.parametrize("case", damaged_variants(), ids=lambda c: c[0])
def test_damaged_files_show_a_one_line_error(page, case):
    name, data = case
    out = decode_on_page(page, data, f"{name}.vqz", timeout_s=20)
    assert out["state"] == "error", out
    assert out["message"].startswith("Cannot decode") and "\n" not in out["message"]
    assert page.is_hidden("#result")
    if name in FORGED:
        assert FORGED[name][1] in out["message"], out["message"]
