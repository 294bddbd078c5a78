// The restoration network, layer 2 (FORMAT.md section 7): float32, at half resolution, its 3x3
// convolutions as the synthesis network's (synthesis.js conv3, kernels.js), in windows.

import { VqzError } from './container.js';
import { kernels, winoBytes } from './kernels.js';
import { bytesOf, clearBorder, conv3, convLayer, padded, prepare, roundEven } from './synthesis.js';

const f32 = Math.fround, WINDOW = 512, FORMAT = 'vqcodec-restore-net-1';

// The network of a file's record (its id in the index's "networks"), loaded once per id.
const loaded = new Map();
export function restoreNetOf(assets, id) {
  if (!loaded.has(id)) {
    const p = assets.network(id, 'restore-net').then(async (entry) => {
      if (entry.format !== FORMAT) throw new VqzError(`network ${entry.name} is not a ${FORMAT} network`);
      return build(await assets.load(entry, 'weights'), entry.config);
    });
    p.catch(() => loaded.delete(id));   // (a failed load is tried again by the next file)
    loaded.set(id, p);
  }
  return loaded.get(id);
}

function build(t, { channels: C, layers: L, film_hidden: F }) {
  const layer = (n, co) => convLayer(t[`${n}.weight`], t[`${n}.bias`], co);
  const net = {
    C, L, film: ['film.0.weight', 'film.0.bias', 'film.2.weight', 'film.2.bias'].map((n) => t[n].data),
    convs: [layer('head'), ...Array.from({ length: L - 2 }, (_, k) => layer(`body.${k}`)), layer('tail', 16)],
  };
  if (net.film[0].length !== F || net.film[3].length !== 2 * C * (L - 1)) throw new VqzError('restoration network: weights do not match its config');
  return net;
}

// FiLM (7.2): per layer i < L-1 the factors (1 + scale[i]) and the shifts, from the step.
function film({ C, L, film: [w1, b1, w2, b2] }, step) {
  const t = f32((Math.log2(step) - 5) / 2), F = b1.length;
  const hidden = Float32Array.from(b1, (b, j) => { const v = f32(f32(w1[j] * t) + b); return f32(v / f32(1 + f32(Math.exp(-v)))); });
  const g = Float32Array.from(b2, (b, k) => { let s = 0; for (let j = 0; j < F; j++) s = f32(s + f32(w2[k * F + j] * hidden[j])); return f32(s + b); });
  return Array.from({ length: L - 1 }, (_, i) => [Float32Array.from(g.subarray(2 * i * C, (2 * i + 1) * C), (v) => f32(1 + v)), g.subarray((2 * i + 1) * C, (2 * i + 2) * C)]);
}

// v / 255 and v / 255 - 0.5 in float32, for the bytes v
const UNIT = Float32Array.from({ length: 256 }, (_, v) => f32(v / 255)), CENTRED = UNIT.map((v) => f32(v - 0.5));

// The network on the image rows [ya, ya + hh) x columns [xa, xa + ww) (hh, ww even; a row or
// column index beyond yb - 1 / xb - 1 reads that edge: the replication of 7.3), `phase` = its
// first half row's position in the window mod 4. Returns r (zero-bordered (hh/2, ww/2, 16), 12
// used) in the order of `half`; y = x + r, x the pixels / 255.
function network(net, rgb, width, ya, hh, yb, xa, ww, xb, phase, filmed) {
  const h = hh / 2, w = ww / 2, { C, convs } = net;
  prepare(convs);
  const release = kernels.frame(2 * bytesOf(h, w, 16) + 2 * bytesOf(h, w, C) + 8 * convs.length * (C + 16) + winoBytes(w, C, C));
  try {
    const input = padded(h, w, 16), I = input.a;
    for (let Y = 0; Y < h; Y++) {
      const Yb = (Y + phase) % 4, rows = [Math.min(ya + 2 * Y, yb - 1), Math.min(ya + 2 * Y + 1, yb - 1)];
      for (let X = 0, q = input.at + Y * (w + 2) * 16; X < w; X++, q += 16) {
        for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) {
          const o = 3 * (rows[dy] * width + Math.min(xa + 2 * X + dx, xb - 1)), k = 2 * dy + dx;
          I[q + k] = CENTRED[rgb[o]]; I[q + 4 + k] = CENTRED[rgb[o + 1]]; I[q + 8 + k] = CENTRED[rgb[o + 2]];
        }
        const Xb = X % 4;
        I[q + 12] = Yb === 0; I[q + 13] = Yb === 3; I[q + 14] = Xb === 0; I[q + 15] = Xb === 3;
      }
    }
    // FiLM (7.2) after each convolution but the last: relu(f * scale1 + shift)
    const factors = filmed.map(([scale1, shift]) => {
      const t = kernels.heap(Float32Array, 2 * C);
      t.set(scale1); t.set(shift, C);
      return t;
    });
    let f = padded(h, w, C), g = padded(h, w, C);
    for (let i = 0; i < convs.length - 1; i++) {
      conv3(i ? g : input, convs[i], f);
      kernels.film(f.a.subarray(f.at), (f.h - 1) * (f.w + 2) + f.w, C, factors[i]);
      clearBorder(f);
      [f, g] = [g, f];
    }
    const r = padded(h, w, 16);
    conv3(g, convs[convs.length - 1], r);
    return r.a.slice();
  } finally {
    release();
  }
}

// Rows [r0, r1) of the restored image (7.3): RGB bytes. Each window runs on the rows it needs
// for them plus `guard` pixels (one half row per convolution: beyond it, a cut changes
// nothing), so bands of rows on the pool's helpers equal one whole-image pass.
export function restoreRows(net, rgb, width, height, step, r0, r1) {
  const out = new Uint8Array(width * (r1 - r0) * 3), halo = 8 * Math.ceil((2 * net.L) / 8), guard = 2 * net.L;
  const filmed = film(net, step);
  for (let y0 = 0; y0 < height; y0 += WINDOW) {
    const y1 = Math.min(y0 + WINDOW, height), u0 = Math.max(y0, r0), u1 = Math.min(y1, r1);
    if (u0 >= u1) continue;
    const ya = Math.max(y0 - halo, 0), yb = Math.min(y1 + halo, height), hp = (yb - ya + 1) & ~1;
    const a = Math.max(0, (u0 - ya - guard) & ~1), b = Math.min(hp, (u1 - ya + guard + 1) & ~1);
    for (let x0 = 0; x0 < width; x0 += WINDOW) {
      const x1 = Math.min(x0 + WINDOW, width), xa = Math.max(x0 - halo, 0), xb = Math.min(x1 + halo, width), wp = (xb - xa + 1) & ~1;
      const r = network(net, rgb, width, ya + a, b - a, yb, xa, wp, xb, (a / 2) % 4, filmed), rw = wp / 2 + 2;
      for (let y = u0; y < u1; y++) {
        const i = y - ya - a, row = ((i >> 1) + 1) * rw + 1, src = r0 * width * 3;
        for (let xx = x0, q = ((y - r0) * width + x0) * 3; xx < x1; xx++, q += 3) {
          const j = xx - xa, p = (row + (j >> 1)) * 16 + 2 * (i & 1) + (j & 1);
          for (let c = 0; c < 3; c++) {
            const v = roundEven(f32(255 * f32(UNIT[rgb[src + q + c]] + r[p + 4 * c])));
            out[q + c] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
        }
      }
    }
  }
  return out;
}
