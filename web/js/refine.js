// The refinement layer (FORMAT.md section 6): exact coefficients, float reconstruction.

import { VqzError } from './container.js';
import { kernels } from './kernels.js';
import { roundEven } from './synthesis.js';

const STRIPE = 512;
const ZIGZAG = [0, 8, 1, 2, 9, 16, 24, 17, 10, 3, 4, 11, 18, 25, 32, 40, 33, 26, 19, 12, 5, 6, 13, 20,
  27, 34, 41, 48, 56, 49, 42, 35, 28, 21, 14, 7, 15, 22, 29, 36, 43, 50, 57, 58, 51, 44,
  37, 30, 23, 31, 38, 45, 52, 59, 60, 53, 46, 39, 47, 54, 61, 62, 55, 63];
const DCT = Float64Array.from({ length: 64 }, (_, i) => Math.sqrt((i < 8 ? 1 : 2) / 8) * Math.cos((Math.PI * (2 * (i % 8) + 1) * (i >> 3)) / 16));   // [k][n]
export const COLOUR = [[1, 1, 1].map((v) => v / Math.sqrt(3)), [1, 0, -1].map((v) => v / Math.sqrt(2)), [1, -2, 1].map((v) => v / Math.sqrt(6))];

// The coefficients of every stripe (FORMAT.md 6.3; decoded in gemm.ts): Int32Array (channels,
// bh, bw, 64) each, band (zigzag) order.
export function decodeRefinement(h) {
  const channels = h.colour === 1 ? 1 : 3;
  return h.refinement.map((bytes, m) => {
    const q = kernels.stripe(bytes, channels, Math.ceil((Math.min((m + 1) * STRIPE, h.height) - m * STRIPE) / 8), Math.ceil(h.width / 8));
    if (q === null) throw new VqzError('damaged stream (range decoder: invalid data)');
    return q;
  });
}

// Add the residual to `rgb` (height, width, 3) in place (FORMAT.md 6.4), the stripes'
// coefficients decoded here or given. Returns {coefficients: per stripe, nonzero: Uint8Array
// (channels, ceil(h/8), ceil(w/8)), BH, BW}.
export function applyRefinement(h, rgb, progress, decoded = null) {
  const step = h.refineStep / 4, channels = h.colour === 1 ? 1 : 3;
  const stripes = Math.ceil(h.height / STRIPE);
  const all = decoded || decodeRefinement(h);
  const BW = Math.ceil(h.width / 8), BH = Math.ceil(h.height / 8);
  const nonzero = new Uint8Array(channels * BH * BW), coefficients = [];
  const coef = new Float64Array(64), tmp = new Float64Array(64), Y = new Float64Array(3 * 64);
  for (let m = 0; m < stripes; m++) {
    const r0 = m * STRIPE, r1 = Math.min(r0 + STRIPE, h.height), bh = Math.ceil((r1 - r0) / 8), bw = BW;
    const q = all[m];
    coefficients.push(q);
    for (let by = 0; by < bh; by++) for (let bx = 0; bx < bw; bx++) {
      let any = false;
      Y.fill(0);
      for (let c = 0; c < channels; c++) {
        const base = ((c * bh + by) * bw + bx) * 64;
        let nz = 0, used = 0;     // used: the rows u of coef with a nonzero (the others add only zeros)
        coef.fill(0);
        for (let b = 0; b < 64; b++) if (q[base + b] !== 0) { nz++; coef[ZIGZAG[b]] = q[base + b] * step; used |= 1 << (ZIGZAG[b] >> 3); }
        nonzero[(c * BH + (m * 64 + by)) * BW + bx] = nz;
        if (!nz) continue;
        any = true;
        for (let u = 0; u < 8; u++) if ((used >> u) & 1) for (let j = 0; j < 8; j++) { let s = 0; for (let v = 0; v < 8; v++) s += coef[u * 8 + v] * DCT[v * 8 + j]; tmp[u * 8 + j] = s; }
        for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) { let s = 0; for (let u = 0; u < 8; u++) if ((used >> u) & 1) s += DCT[u * 8 + i] * tmp[u * 8 + j]; Y[c * 64 + i * 8 + j] = s; }
      }
      if (!any) continue;
      for (let i = 0; i < 8; i++) {
        const y = r0 + by * 8 + i;
        if (y >= r1) break;
        for (let j = 0; j < 8; j++) {
          const x = bx * 8 + j;
          if (x >= h.width) break;
          for (let k = 0; k < 3; k++) {
            let res = 0;
            for (let c = 0; c < channels; c++) res += Y[c * 64 + i * 8 + j] * COLOUR[c][k];
            const o = (y * h.width + x) * 3 + k, v = roundEven(rgb[o] + res);
            rgb[o] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
        }
      }
    }
    if (progress) progress(m + 1, stripes);
  }
  return { coefficients, nonzero, BH, BW };
}
