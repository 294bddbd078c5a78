// The whole decoder: bytes -> pixels (FORMAT.md, overview in section 1).

import { VqzError, parse, contentCrc, REFINEMENT, NETWORK, FILTER } from './container.js';
import { priorOf, decodeMaps, tilesOf } from './prior.js';
import { synthesisOf, synthesizeRows } from './synthesis.js';
import { applyRefinement, decodeRefinement } from './refine.js';
import { split } from './pool.js';
import { decodeFilter, applyFilter } from './filter.js';
import { kernels } from './kernels.js';
import { restoreNetOf, restoreRows } from './restorenet.js';

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
async function onPool(pool, bytes, h, stride, progress) {
  const { sizes, rects } = tilesOf(h, stride);
  const codes = rects.map(([[a, b, c, d]]) => 5 * (b - a) * (d - c));
  const total = codes.reduce((x, y) => x + y, 0);
  let done = 0;
  const step = (n) => { done += n; progress('code maps', (0.6 * done) / total); };
  const jobs = split(codes, pool.size).map((tiles, k) => pool.run(k, { task: 'maps', modelId: h.modelId, bytes: bytes.slice().buffer, tiles }, [], step));
  jobs.forEach((j) => j.catch(() => {}));   // (a failure is reported once, below)
  const coefficients = h.refinement.length ? decodeRefinement(h) : null;
  const parts = await Promise.all(jobs);
  const maps = parts[0];
  for (const other of parts.slice(1)) for (let m = 0; m < 2; m++) for (let i = 0; i < maps[m].length; i++) maps[m][i] += other[m][i];
  if (contentCrc(h, maps) !== h.crc32) throw new VqzError('damaged file: CRC mismatch over the decoded indices');
  progress('synthesis', 0.6);
  const rgb = await pool.bands(sizes[0][0], (v0, v1) => ({ task: 'synth', modelId: h.modelId, maps, sizes, width: h.width, height: h.height, v0, v1 }), new Uint8Array(h.width * h.height * 3));
  return { maps, rgb, coefficients };
}

// The restoration network (layer 2) over the whole image, or in bands of rows on the pool.
async function restore(pool, net, rgb, h, step, id) {
  if (!pool || pool.size < 2) return restoreRows(await net, rgb, h.width, h.height, step, 0, h.height);
  return pool.bands(h.height, (r0, r1) => ({ task: 'restore', modelId: h.modelId, networkId: id, rgb, width: h.width, height: h.height, step, r0, r1 }), rgb);
}

// progress(stage, fraction in 0..1). With `debug`, the result carries every decoded integer.
// With a pool (pool.js) of more than one helper, maps, synthesis and network run on the helpers.
export async function decodeVqz(bytes, assets, progress = () => {}, debug = false, pool = null) {
  const t0 = performance.now(), times = {};
  const h = parse(bytes);
  const entry = await assets.model(h.modelId);
  const netRecord = h.records.find((r) => r.id === NETWORK);
  const net = netRecord ? restoreNetOf(assets, netRecord.param) : null;   // loads meanwhile
  if (net) await assets.network(netRecord.param, 'restore-net');   // (FORMAT.md 2.4 step 10)
  if (entry.fingerprint !== h.fingerprint) throw new VqzError(`file written by other weights than model ${entry.name} (fingerprint mismatch)`);
  let t = performance.now(), maps, rgb, decoded = null;
  if (pool && pool.size > 1) {
    ({ maps, rgb, coefficients: decoded } = await onPool(pool, bytes, h, entry.stride, progress));
    times.maps_and_synthesis = -t + (t = performance.now());
  } else {
    const parts = modelParts(assets, entry);
    const prior = await parts.prior;
    times.assets = -t + (t = performance.now());
    let sizes;
    ({ maps, sizes } = decodeMaps(h, prior, entry.stride, (d, n) => progress('code maps', (0.6 * d) / n)));
    if (contentCrc(h, maps) !== h.crc32) throw new VqzError('damaged file: CRC mismatch over the decoded indices');
    times.maps = -t + (t = performance.now());
    const synthesis = await parts.synthesis;
    const tNet = performance.now();
    rgb = synthesizeRows(synthesis, maps, sizes, h.width, h.height, 0, sizes[0][0], (d, n) => progress('synthesis', 0.6 + (0.25 * d) / n));
    times.synthesis = -tNet + (t = performance.now());
  }
  // the layers in record order (FORMAT.md 2.2); each reads what the earlier ones leave
  let refined = null, weights = null;
  const run = {
    [REFINEMENT]: () => { refined = applyRefinement(h, rgb, (d, n) => progress('refinement', 0.85 + (0.05 * d) / n), decoded); },
    [NETWORK]: async () => {
      progress('restoration network', 0.9);
      rgb = await restore(pool, net, rgb, h, h.refineStep ? h.refineStep / 4 : 512, netRecord.param);
    },
    [FILTER]: (r) => {
      weights = decodeFilter(r.streams[0], h.colour === 1 ? 1 : 3);
      if (weights) applyFilter(rgb, h.width, h.height, weights, refined);
    },
  };
  for (const r of h.records) {
    await run[r.id](r);
    times[{ [REFINEMENT]: 'refinement', [NETWORK]: 'network', [FILTER]: 'filter' }[r.id]] = -t + (t = performance.now());
  }
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
      refineStep: h.refineStep / 4, network: netRecord ? netRecord.param : 0, filtered: !!weights,
      kernels: kernels.name, threads: pool ? pool.size : 1, ms: performance.now() - t0, times,
    },
  };
  if (debug) result.debug = { maps, coefficients: refined ? refined.coefficients : [], filter: weights, rgb };
  return result;
}
