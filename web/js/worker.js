// Decodes in a worker: {bytes, debug, threads} in; progress, then {type: 'result'} or
// {type: 'error'} out. With threads > 1 a pool of helper workers decodes the tiles and
// synthesizes bands of rows; default: the cores (at most 4) where there are 4 or more, else 1
// (measured: two threads on a loaded 2-core machine were slower than one).

import { Assets } from './assets.js';
import { decodeVqz } from './decoder.js';
import { ready } from './kernels.js';
import { VqzError } from './container.js';
import { Pool } from './pool.js';

const assets = new Assets(new URL('../', import.meta.url));
let pool = null;
const CORES = self.navigator?.hardwareConcurrency || 1, DEFAULT_THREADS = CORES >= 4 ? Math.min(4, CORES) : 1;

self.onmessage = async ({ data }) => {
  const { id, bytes, debug = false } = data;
  let last = 0;
  try {
    if (!(await ready)) throw new VqzError('this browser has no WebAssembly SIMD (Chrome 91, Firefox 89, Safari 16.4 or newer have it)');
    const threads = Math.max(1, Math.min(8, data.threads || DEFAULT_THREADS));
    if (pool && (pool.broken || pool.size !== threads)) { pool.close(); pool = null; }
    if (!pool && threads > 1) pool = new Pool(threads);
    const result = await decodeVqz(new Uint8Array(bytes), assets, (stage, fraction) => {
      const now = performance.now();
      if (now - last > 50 || fraction === 1) { last = now; self.postMessage({ id, type: 'progress', stage, fraction }); }
    }, debug, pool);
    self.postMessage({ id, type: 'result', result }, [result.pixels.buffer]);
  } catch (err) {
    const message = String((err && err.message) || err).split('\n')[0];
    self.postMessage({ id, type: 'error', message });
  }
};
