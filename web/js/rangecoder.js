// constriction's queue range decoder (FORMAT.md 5.3, CODER.md 2d): 32-bit words, 64-bit state.
// The state is kept as d = (point - lower) mod 2^64 and range, each split into two 32-bit
// halves held in doubles (every intermediate is an exact integer below 2^53); see
// benchmarks/web_decode.py for the BigInt comparison.

import { VqzError } from './container.js';

const TWO32 = 4294967296, TWO24 = 16777216;

export class RangeDecoder {
  constructor(bytes) {
    const n = Math.ceil(bytes.length / 4);
    this.words = new Uint32Array(n);
    const padded = new Uint8Array(n * 4);
    padded.set(bytes);
    const dv = new DataView(padded.buffer);
    for (let i = 0; i < n; i++) this.words[i] = dv.getUint32(4 * i, true);
    this.pos = 0;
    this.dh = this.word(); this.dl = this.word();          // d = point - lower, lower = 0
    this.rh = TWO32 - 1; this.rl = TWO32 - 1;              // range = 2^64 - 1
    this.ph = 0; this.pl = 0;                              // mul()'s product (one shape)
  }

  word() { return this.pos < this.words.length ? this.words[this.pos++] : (this.pos++, 0); }

  // Decode one symbol with the cumulative table at cum[o] (cum[o] = 0, cum[o + K] = 2^24).
  decode(cum, K, o = 0) {
    const scale = this.rh * 256 + Math.floor(this.rl / TWO24);         // range >> 24, < 2^40
    const s1 = Math.floor(scale / TWO24), s0 = scale - s1 * TWO24;      // scale = s1 2^24 + s0
    if (this.dh >= scale) throw new VqzError('damaged stream (range decoder: invalid data)');
    let q = Math.floor((this.dh * TWO32 + this.dl) / scale);   // within 1 of the quotient
    if (q > TWO24) throw new VqzError('damaged stream (range decoder: invalid data)');
    // exact remainder d - q * scale (small: |.| < 2^42)
    let rem = this.rem(q, s1, s0);
    while (rem < 0) { q--; rem += scale; }
    while (rem >= scale) { q++; rem -= scale; }
    if (q >= TWO24) throw new VqzError('damaged stream (range decoder: invalid data)');
    // symbol: cum[s] <= q < cum[s + 1]
    let lo = 0, hi = K;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (cum[o + mid] <= q) lo = mid; else hi = mid; }
    const s = lo;
    // d -= scale * cum[s]  ==  rem + scale * (q - cum[s]);   range = scale * f(s)
    this.mul(q - cum[o + s], s1, s0);
    let dl = this.pl + rem, dh = this.ph;
    if (dl >= TWO32) { dl -= TWO32; dh += 1; }
    this.dh = dh; this.dl = dl;
    this.mul(cum[o + s + 1] - cum[o + s], s1, s0);
    this.rh = this.ph; this.rl = this.pl;
    if (this.rh === 0) {                                   // range < 2^32: shift in a word
      this.rh = this.rl; this.rl = 0;
      this.dh = this.dl; this.dl = this.word();
    }
    return s;
  }

  // (ph, pl) = m * scale as 32-bit halves, m < 2^25, scale = s1 2^24 + s0.
  mul(m, s1, s0) {
    const a = m * s0, b = m * s1;                          // < 2^49, < 2^41
    const bh = Math.floor(b / 256);
    const low = (b - bh * 256) * TWO24 + a;                // < 2^50
    const lh = Math.floor(low / TWO32);
    this.ph = bh + lh; this.pl = low - lh * TWO32;
  }

  rem(q, s1, s0) {
    this.mul(q, s1, s0);
    return (this.dh - this.ph) * TWO32 + (this.dl - this.pl);
  }

  exhausted() {
    return this.pos >= this.words.length && (this.dh === 0 || (this.dh === 1 && this.dl < TWO32 - 1));
  }

  // Exp-Golomb batch of n values (FORMAT.md 5.4)
  expGolomb(n) {
    const k = new Int32Array(n), u = new Float64Array(n);
    for (let i = 0; i < n; i++) { k[i] = this.decode(PREFIX, 13); u[i] = 2 ** k[i]; }
    for (let bits = 1; bits <= 12; bits++) {
      for (let i = 0; i < n; i++) if (k[i] === bits) u[i] += this.decode(uniform(1 << bits), 1 << bits);
    }
    for (let i = 0; i < n; i++) u[i] -= 1;
    return u;
  }
}

export function cumulative(freqs) {
  const cum = new Float64Array(freqs.length + 1);
  for (let i = 0; i < freqs.length; i++) cum[i + 1] = cum[i] + freqs[i];
  return cum;
}

const uniformCache = new Map();
export function uniform(n) {
  let t = uniformCache.get(n);
  if (!t) {
    const f = Math.floor(TWO24 / n);
    t = new Float64Array(n + 1);
    for (let s = 0; s <= n; s++) t[s] = s * f;
    t[n] = TWO24;
    uniformCache.set(n, t);
  }
  return t;
}

export const HALF = cumulative([8388608, 8388608]);
export const DECAY = cumulative([8388601, 4194301, 2097151, 1048576, 524288, 262145, 131073, 65537, 32769, 16385, 8193, 4097, 2049, 1025, 513, 513]);
export const PREFIX = cumulative([8388602, 4194302, 2097152, 1048576, 524288, 262145, 131073, 65537, 32769, 16385, 8193, 4097, 4097]);
