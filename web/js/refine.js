// The refinement layer (FORMAT.md section 6): exact coefficients, float reconstruction.

import { RangeDecoder, HALF, DECAY, PREFIX, uniform, tableOfIntegerRow } from './rangecoder.js';
import { VqzError } from './container.js';
import { kernels } from './kernels.js';

const ESCAPE = 15, GROUPS = 14, LEVELS = 10, STRIPE = 512;
export const ZIGZAG = [0, 8, 1, 2, 9, 16, 24, 17, 10, 3, 4, 11, 18, 25, 32, 40, 33, 26, 19, 12, 5, 6, 13, 20,
  27, 34, 41, 48, 56, 49, 42, 35, 28, 21, 14, 7, 15, 22, 29, 36, 43, 50, 57, 58, 51, 44,
  37, 30, 23, 31, 38, 45, 52, 59, 60, 53, 46, 39, 47, 54, 61, 62, 55, 63];
const GROUP_ENDS = [1, 2, 3, 4, 6, 8, 10, 13, 15, 21, 28, 36, 45];
const bandGroup = (b) => GROUP_ENDS.filter((e) => b >= e).length;

// the distribution family, in BigInt (products reach 2^60), computed once per member used
const Q30 = 1n << 30n;
function powers(base, n) {
  const out = [];
  let v = Q30;
  for (let i = 0; i < n; i++) { v = (v * base + (1n << 29n)) >> 30n; out.push(v); }
  return out;
}
const ZERO = powers(902905651n, 64).map((p) => Q30 - p), DECAYS = powers(852229450n, 16).map((p) => Q30 - p);
const members = new Map();
function memberTable(m) {
  let t = members.get(m);
  if (t) return t;
  const z = ZERO[m >> 4], r = DECAYS[m & 15], rest = Q30 - z, mags = [];
  let run = Q30;
  for (let i = 0; i < 14; i++) { mags.push((rest * ((run * (Q30 - r)) >> 30n)) >> 30n); run = (run * r) >> 30n; }
  mags.push((rest * run) >> 30n);
  const half = mags.map((x) => Math.max(1, Number(x >> 11n)));
  let centre = 2 ** 20;
  for (const v of half) centre -= 2 * v;
  t = tableOfIntegerRow([...half.slice().reverse(), centre, ...half], 31, 20, new Float64Array(32));
  members.set(m, t);
  return t;
}

// the tables of gemm.wat's stripe decoder (its copy of the loops below)
const CONSTS = Int32Array.from([...HALF, ...DECAY, ...PREFIX, ...Array.from({ length: 64 }, (_, b) => bandGroup(b)), ...ZERO.map(Number), ...DECAYS.map(Number)]);

// Decode one stripe: Int32Array (channels, bh, bw, 64), band (zigzag) order (FORMAT.md 6.3).
export function decodeStripe(bytes, channels, bh, bw) {
  const fast = kernels.stripe(bytes, channels, bh, bw, CONSTS);
  if (fast === null) throw new VqzError('damaged stream (range decoder: invalid data)');
  if (fast) return fast;
  const dec = new RangeDecoder(bytes), P = channels * bh * bw, nb = bh * bw, rows = new Int32Array(P);
  const member = new Int32Array(channels * GROUPS * LEVELS).fill(-1);
  const bands = new Int32Array(P * 64), earlier = new Int32Array(P), box = new Int32Array(P);   // bands: (64, P)
  const cls = new Int32Array(P), order = new Int32Array(P), counts = new Int32Array(member.length + 1);
  const pos0 = new Int32Array(channels * Math.ceil(nb / 2)), pos1 = new Int32Array(channels * (nb >> 1));   // the two passes
  for (let c = 0, n0 = 0, n1 = 0; c < channels; c++) for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) {
    if ((x + y) & 1) pos1[n1++] = (c * bh + y) * bw + x; else pos0[n0++] = (c * bh + y) * bw + x;
  }
  for (let band = 0; band < 64; band++) {
    const g = bandGroup(band), values = bands.subarray(band * P, (band + 1) * P);
    for (let c = 0; c < channels; c++) {   // 3x3 sum of `earlier`, zero outside: rows, then columns
      for (let y = 0; y < bh; y++) for (let x = 0, p = (c * bh + y) * bw; x < bw; x++, p++) {
        rows[p] = earlier[p] + (x > 0 ? earlier[p - 1] : 0) + (x < bw - 1 ? earlier[p + 1] : 0);
      }
      for (let y = 0; y < bh; y++) for (let x = 0, p = (c * bh + y) * bw; x < bw; x++, p++) {
        box[p] = rows[p] + (y > 0 ? rows[p - bw] : 0) + (y < bh - 1 ? rows[p + bw] : 0);
      }
    }
    for (let pass = 0; pass < 2; pass++) {
      const pos = pass ? pos1 : pos0;
      counts.fill(0);
      for (let i = 0; i < pos.length; i++) {
        const p = pos[i];
        let total = box[p];
        if (pass === 1) {
          const y = ((p % nb) / bw) | 0, x = p % bw;
          total += 4 * ((y > 0 ? Math.abs(values[p - bw]) : 0) + (y < bh - 1 ? Math.abs(values[p + bw]) : 0) + (x > 0 ? Math.abs(values[p - 1]) : 0) + (x < bw - 1 ? Math.abs(values[p + 1]) : 0));
        }
        const act = Math.min(total > 0 ? 32 - Math.clz32(total) : 0, LEVELS - 1);
        const k = (((p / nb) | 0) * GROUPS + g) * LEVELS + act;
        cls[p] = k; counts[k + 1]++;
      }
      for (let k = 1; k < counts.length; k++) counts[k] += counts[k - 1];
      const start = counts.slice();
      for (let i = 0; i < pos.length; i++) order[start[cls[pos[i]]]++] = pos[i];   // stable: ascending pos per class
      for (let k = 0; k < member.length; k++) {
        if (counts[k + 1] === counts[k]) continue;
        if (member[k] < 0) member[k] = dec.decode(HALF, 2) === 1 ? 1008 : dec.decode(uniform(64), 64) * 16 + dec.decode(DECAY, 16);
        const table = memberTable(member[k]);
        for (let n = counts[k]; n < counts[k + 1]; n++) values[order[n]] = dec.decode(table, 31) - ESCAPE;
      }
    }
    const escaped = [];
    for (let p = 0; p < P; p++) if (Math.abs(values[p]) === ESCAPE) escaped.push(p);
    if (escaped.length) {
      const excess = dec.expGolomb(escaped.length);
      escaped.forEach((p, i) => { values[p] += Math.sign(values[p]) * excess[i]; });
    }
    for (let p = 0; p < P; p++) earlier[p] += Math.min(Math.abs(values[p]), ESCAPE);
  }
  const q = new Int32Array(P * 64);
  for (let p0 = 0; p0 < P; p0 += 16) {      // (64, P) -> (P, 64), in blocks
    for (let b = 0; b < 64; b++) for (let p = p0; p < Math.min(p0 + 16, P); p++) q[p * 64 + b] = bands[b * P + p];
  }
  return q;
}

const DCT = Float64Array.from({ length: 64 }, (_, i) => Math.sqrt((i < 8 ? 1 : 2) / 8) * Math.cos((Math.PI * (2 * (i % 8) + 1) * (i >> 3)) / 16));   // [k][n]
export const COLOUR = [[1, 1, 1].map((v) => v / Math.sqrt(3)), [1, 0, -1].map((v) => v / Math.sqrt(2)), [1, -2, 1].map((v) => v / Math.sqrt(6))];
const roundEven = (v) => { const r = Math.round(v); return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; };

// The coefficients of every stripe (FORMAT.md 6.3).
export function decodeRefinement(h) {
  const channels = h.colour === 1 ? 1 : 3;
  return h.refinement.map((bytes, m) => decodeStripe(bytes, channels, Math.ceil((Math.min((m + 1) * STRIPE, h.height) - m * STRIPE) / 8), Math.ceil(h.width / 8)));
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
