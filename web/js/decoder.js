// The whole decoder: bytes -> pixels (FORMAT.md, overview in section 1).

import { VqzError, parse, contentCrc } from './container.js';
import { priorOf, decodeMaps, tilesOf } from './prior.js';
import { synthesisOf, synthesize } from './synthesis.js';
import { applyRefinement, decodeRefinement } from './refine.js';
import { split } from './pool.js';
import { decodeFilter, applyFilter } from './filter.js';
import { kernels } from './kernels.js';

const models = new Map();   // model id -> {prior, synthesis} promises, built once

export function modelParts(assets, entry) {
  if (!models.has(entry.id)) {
    const config = assets.load(entry, 'config');
    models.set(entry.id, {
      prior: Promise.all([assets.load(entry, 'prior'), config]).then(([t, c]) => priorOf(t, c)),
      synthesis: Promise.all([assets.load(entry, 'synthesis'), config]).then(([t, c]) => synthesisOf(t, c)),
    });
  }
  return models.get(entry.id);
}

// The code maps and the image on the pool's helpers: tiles split between them (the
// refinement's coefficients decode here meanwhile), then bands of rows.
async function onPool(pool, bytes, h, entry, kernels, progress) {
  const { sizes, rects } = tilesOf(h, entry.stride);
  const codes = rects.map(([[a, b, c, d]]) => 5 * (b - a) * (d - c));
  const total = codes.reduce((x, y) => x + y, 0);
  let done = 0;
  const step = (n) => { done += n; progress('code maps', (0.6 * done) / total); };
  const jobs = split(codes, pool.size).map((tiles, k) => pool.run(k, { task: 'maps', modelId: h.modelId, kernels, bytes: bytes.slice().buffer, tiles }, [], step));
  jobs.forEach((j) => j.catch(() => {}));   // (a failure is reported once, below)
  const coefficients = h.refineStep > 0 ? decodeRefinement(h) : null;
  const parts = await Promise.all(jobs);
  const maps = parts[0];
  for (const other of parts.slice(1)) for (let m = 0; m < 2; m++) for (let i = 0; i < maps[m].length; i++) maps[m][i] += other[m][i];
  if (contentCrc(h, maps) !== h.crc32) throw new VqzError('damaged file: CRC mismatch over the decoded indices');
  progress('synthesis', 0.6);
  const bands = split(new Array(sizes[0][0]).fill(1), pool.size);
  const rows = await Promise.all(bands.map((band, k) => pool.run(k, {
    task: 'synth', modelId: h.modelId, kernels, maps, sizes, width: h.width, height: h.height, v0: band[0], v1: band[band.length - 1] + 1,
  })));
  const rgb = new Uint8Array(h.width * h.height * 3);
  let o = 0;
  for (const r of rows) { rgb.set(r, o); o += r.length; }
  return { maps, rgb, coefficients };
}

// progress(stage, fraction in 0..1). With `debug`, the result carries every decoded integer.
// With a pool (pool.js) of more than one helper, maps and synthesis run on the helpers.
export async function decodeVqz(bytes, assets, progress = () => {}, debug = false, pool = null) {
  const t0 = performance.now(), times = {};
  const h = parse(bytes);
  const entry = await assets.model(h.modelId);
  if (entry.fingerprint !== h.fingerprint) throw new VqzError(`file written by other weights than model ${entry.name} (fingerprint mismatch)`);
  let t = performance.now(), maps, rgb, decoded = null;
  if (pool && pool.size > 1) {
    ({ maps, rgb, coefficients: decoded } = await onPool(pool, bytes, h, entry, { js: 'js', 'wasm-simd': 'wasm-simd' }[kernels.name] || 'wasm', progress));
    times.maps_and_synthesis = -t + (t = performance.now());
  } else {
    const parts = modelParts(assets, entry);
    const prior = await parts.prior;
    times.assets = -t + (t = performance.now());
    let sizes;
    ({ maps, sizes } = decodeMaps(h, prior, entry.stride, (d, n) => progress('code maps', (0.6 * d) / n)));
    if (contentCrc(h, maps) !== h.crc32) throw new VqzError('damaged file: CRC mismatch over the decoded indices');
    times.maps = -t + (t = performance.now());
    const net = await parts.synthesis;
    const tNet = performance.now();
    rgb = synthesize(net, maps, sizes, h.width, h.height, (d, n) => progress('synthesis', 0.6 + (0.3 * d) / n));
    times.synthesis = -tNet + (t = performance.now());
  }
  let refined = null, weights = null;
  if (h.refineStep > 0) refined = applyRefinement(h, rgb, (d, n) => progress('refinement', 0.9 + (0.05 * d) / n), decoded);
  times.refinement = -t + (t = performance.now());
  if (h.filterLength > 0) {
    weights = decodeFilter(h.filter, h.colour === 1 ? 1 : 3);
    if (weights) applyFilter(rgb, h.width, h.height, weights, refined);
  }
  times.filter = -t + (t = performance.now());
  let pixels = rgb, channels = 3;
  if (h.colour === 1) {
    channels = 1;
    pixels = new Uint8Array(h.width * h.height);
    for (let p = 0; p < pixels.length; p++) pixels[p] = (19595 * rgb[3 * p] + 38470 * rgb[3 * p + 1] + 7471 * rgb[3 * p + 2] + 32768) >>> 16;
  }
  progress('done', 1);
  const result = {
    width: h.width, height: h.height, channels, pixels,
    facts: {
      version: h.version, model: entry.name, modelId: entry.id, bytes: bytes.length,
      bpp: (bytes.length * 8) / (h.width * h.height), tiles: h.lengths.length,
      refineStep: h.refineStep / 4, filtered: !!weights, kernels: kernels.name, threads: pool ? pool.size : 1,
      ms: performance.now() - t0, times,
    },
  };
  if (debug) result.debug = { maps, coefficients: refined ? refined.coefficients : [], filter: weights, rgb };
  return result;
}
