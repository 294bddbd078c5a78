// The restoration filter (FORMAT.md section 8): exact weights, float32 application.

import { VqzError } from './container.js';
import { COLOUR } from './refine.js';
import { kernels } from './kernels.js';

// Per channel: null (not filtered) or Int32Array (filters x 13) of weights in 1/128.
export function decodeFilter(bytes, channels) {
  if (!bytes.length) return null;
  const [out, status] = kernels.decoding(bytes, (dec) => {
    const weights = [];
    for (let c = 0; c < channels; c++) {
      const mode = dec.uniform(3), z = mode ? dec.golomb((mode === 1 ? 1 : 4) * 13) : null;
      weights.push(z && z.map((v) => (v % 2 === 1 ? -(v + 1) / 2 : v / 2)));
    }
    return [weights, dec.status()];
  });
  if (status === 1) throw new VqzError('damaged stream (range decoder: invalid data)');
  if (out.every((w) => w === null)) throw new VqzError('damaged filter stream (nothing filtered)');
  if (status === 2) throw new VqzError('damaged filter stream (trailing data)');
  return out;
}

const OFFSETS = [[0, 1], [0, 2], [1, -2], [1, -1], [1, 0], [1, 1], [1, 2], [2, -2], [2, -1], [2, 0], [2, 1], [2, 2]];
const f32 = Math.fround;

// Filter `rgb` (height, width, 3) in place; refined = applyRefinement's result or null.
export function applyFilter(rgb, width, height, weights, refined) {
  const channels = weights.length, n = width * height, wp = width + 4;
  const colour = COLOUR.map((row) => row.map(f32));
  const release = kernels.frame(4 * (n * 3 + (height + 4) * wp) + 4 * n + 2048);   // delta, P; bytes, cls
  try {
    const delta = kernels.heap(Float32Array, n * 3), P = kernels.heap(Float32Array, (height + 4) * wp);
    const bytes = kernels.heap(Uint8Array, n * 3);
    bytes.set(rgb);
    const offs = kernels.heap(Int32Array, 12), wf = kernels.heap(Float32Array, 4 * 13), cls = kernels.heap(Uint8Array, n);
    offs.set(OFFSETS.map(([dy, dx]) => dy * wp + dx));
    for (let c = 0; c < channels; c++) {
      const w = weights[c];
      if (!w) continue;
      kernels.plane(bytes, P, width, height, ...colour[c]);   // the colour plane, a border of 2 edge pixels
      cls.fill(0);
      if (w.length > 13 && refined) {
        for (let y = 0; y < height; y++) for (let x = 0; x < width; x += 8) {
          const nz = refined.nonzero[(c * refined.BH + (y >> 3)) * refined.BW + (x >> 3)];
          cls.fill(nz === 0 ? 0 : nz === 1 ? 1 : nz <= 3 ? 2 : 3, y * width + x, y * width + Math.min(x + 8, width));
        }
      }
      wf.set(Float32Array.from(w, (v) => v / 128));
      kernels.filter(P, cls, wf, offs, delta, width, height, ...colour[c]);
    }
    kernels.addRound(bytes, delta, bytes.length);
    rgb.set(bytes);
  } finally {
    release();
  }
}
