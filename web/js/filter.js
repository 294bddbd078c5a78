// The restoration filter (FORMAT.md section 8): exact weights, float32 application.

import { VqzError } from './container.js';
import { RangeDecoder, uniform } from './rangecoder.js';
import { COLOUR } from './refine.js';

// Per channel: null (not filtered) or Int32Array (filters x 13) of weights in 1/128.
export function decodeFilter(bytes, channels) {
  if (!bytes.length) return null;
  const dec = new RangeDecoder(bytes), out = [];
  for (let c = 0; c < channels; c++) {
    const mode = dec.decode(uniform(3), 3);
    if (mode === 0) { out.push(null); continue; }
    const z = dec.expGolomb((mode === 1 ? 1 : 4) * 13);
    out.push(Int32Array.from(z, (v) => (v % 2 === 1 ? -(v + 1) / 2 : v / 2)));
  }
  if (out.every((w) => w === null)) throw new VqzError('damaged filter stream (nothing filtered)');
  if (!dec.exhausted()) throw new VqzError('damaged filter stream (trailing data)');
  return out;
}

const OFFSETS = [[0, 1], [0, 2], [1, -2], [1, -1], [1, 0], [1, 1], [1, 2], [2, -2], [2, -1], [2, 0], [2, 1], [2, 2]];
const f32 = Math.fround;
const roundEven = (v) => { const r = Math.round(v); return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; };

// Filter `rgb` (height, width, 3) in place; refined = applyRefinement's result or null.
export function applyFilter(rgb, width, height, weights, refined) {
  const channels = weights.length, n = width * height, wp = width + 4;
  const colour = COLOUR.map((row) => row.map(f32));
  const delta = new Float32Array(n * 3), P = new Float32Array((height + 4) * wp);
  const offsets = OFFSETS.map(([dy, dx]) => dy * wp + dx);
  const cls = new Uint8Array(n);
  for (let c = 0; c < channels; c++) {
    const w = weights[c];
    if (!w) continue;
    // the colour plane with a border of 2 edge pixels (coordinates clamped)
    const [k0, k1, k2] = colour[c];
    for (let y = -2; y < height + 2; y++) {
      const sy = y < 0 ? 0 : y >= height ? height - 1 : y;
      for (let x = -2; x < width + 2; x++) {
        const p = 3 * (sy * width + (x < 0 ? 0 : x >= width ? width - 1 : x));
        P[(y + 2) * wp + x + 2] = f32(f32(f32(rgb[p] * k0) + f32(rgb[p + 1] * k1)) + f32(rgb[p + 2] * k2));
      }
    }
    cls.fill(0);
    if (w.length > 13 && refined) {
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
        const nz = refined.nonzero[(c * refined.BH + (y >> 3)) * refined.BW + (x >> 3)];
        cls[y * width + x] = nz === 0 ? 0 : nz === 1 ? 1 : nz <= 3 ? 2 : 3;
      }
    }
    const wf = Float32Array.from(w, (v) => v / 128), [d0, d1, d2] = colour[c];
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      const o = 13 * cls[y * width + x], at = (y + 2) * wp + x + 2, centre2 = f32(2 * P[at]);
      let d = wf[o + 12];
      for (let t = 0; t < 12; t++) d = f32(d + f32(wf[o + t] * f32(f32(P[at + offsets[t]] + P[at - offsets[t]]) - centre2)));
      const q = 3 * (y * width + x);
      delta[q] = f32(delta[q] + f32(d * d0));
      delta[q + 1] = f32(delta[q + 1] + f32(d * d1));
      delta[q + 2] = f32(delta[q + 2] + f32(d * d2));
    }
  }
  for (let i = 0; i < n * 3; i++) { const v = roundEven(f32(rgb[i] + delta[i])); rgb[i] = v < 0 ? 0 : v > 255 ? 255 : v; }
}
