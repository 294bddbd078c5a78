// The restoration network, layer 2 (FORMAT.md section 7): float32, at half resolution, its 3x3
// convolutions as the synthesis network's GEMMs (synthesis.js conv, kernels.js), in windows.

import { VqzError } from './container.js';
import { conv, convLayer, prepareConv, roundEven } from './synthesis.js';

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

// f = relu(f * scale1 + shift) per channel, in place: f (n, C)
function modulate(f, [scale1, shift], C) {
  for (let p = 0; p < f.length; p += C) for (let k = 0; k < C; k++) {
    const v = f32(f32(f[p + k] * scale1[k]) + shift[k]);
    f[p + k] = v > 0 ? v : 0;
  }
}

// The network on the image rows [ya, ya + hh) x columns [xa, xa + ww) (hh, ww even; a row or
// column index beyond yb - 1 / xb - 1 reads that edge: the replication of 7.3), `phase` = its
// first half row's position in the window mod 4. Returns x (float32 pixels / 255) and r, both
// (hh/2, ww/2, 12) in the order of `half`; y = x + r.
function network(net, rgb, width, ya, hh, yb, xa, ww, xb, phase, filmed) {
  const h = hh / 2, w = ww / 2, x = new Float32Array(h * w * 12), input = new Float32Array(h * w * 16);
  for (let Y = 0; Y < h; Y++) for (let X = 0; X < w; X++) {
    const p = Y * w + X;
    for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) {
      const o = 3 * (Math.min(ya + 2 * Y + dy, yb - 1) * width + Math.min(xa + 2 * X + dx, xb - 1));
      for (let c = 0; c < 3; c++) {
        const v = f32(rgb[o + c] / 255), k = 4 * c + 2 * dy + dx;
        x[p * 12 + k] = v;
        input[p * 16 + k] = f32(v - 0.5);
      }
    }
    const Yb = (Y + phase) % 4, Xb = X % 4;
    input[p * 16 + 12] = Yb === 0; input[p * 16 + 13] = Yb === 3; input[p * 16 + 14] = Xb === 0; input[p * 16 + 15] = Xb === 3;
  }
  const { C, convs } = net;
  let f = conv(input, h, w, convs[0], false);
  modulate(f, filmed[0], C);
  for (let i = 1; i < convs.length - 1; i++) {
    f = conv(f, h, w, convs[i], false);
    modulate(f, filmed[i], C);
  }
  return { x, r: conv(f, h, w, convs[convs.length - 1], false) };   // (h, w, 16): 12 used
}

// Rows [r0, r1) of the restored image (7.3): RGB bytes. Each window runs on the rows it needs
// for them plus `guard` pixels (one half row per convolution: beyond it, a cut changes
// nothing), so bands of rows on the pool's helpers equal one whole-image pass.
export function restoreRows(net, rgb, width, height, step, r0, r1) {
  const out = new Uint8Array(width * (r1 - r0) * 3), halo = 8 * Math.ceil((2 * net.L) / 8), guard = 2 * net.L;
  const filmed = film(net, step);
  net.convs.forEach(prepareConv);
  for (let y0 = 0; y0 < height; y0 += WINDOW) {
    const y1 = Math.min(y0 + WINDOW, height), u0 = Math.max(y0, r0), u1 = Math.min(y1, r1);
    if (u0 >= u1) continue;
    const ya = Math.max(y0 - halo, 0), yb = Math.min(y1 + halo, height), hp = (yb - ya + 1) & ~1;
    const a = Math.max(0, (u0 - ya - guard) & ~1), b = Math.min(hp, (u1 - ya + guard + 1) & ~1);
    for (let x0 = 0; x0 < width; x0 += WINDOW) {
      const x1 = Math.min(x0 + WINDOW, width), xa = Math.max(x0 - halo, 0), xb = Math.min(x1 + halo, width), wp = (xb - xa + 1) & ~1;
      const { x, r } = network(net, rgb, width, ya + a, b - a, yb, xa, wp, xb, (a / 2) % 4, filmed);
      for (let y = u0; y < u1; y++) {
        const i = y - ya - a;
        for (let xx = x0; xx < x1; xx++) {
          const j = xx - xa, p = (i >> 1) * (wp / 2) + (j >> 1), at = 2 * (i & 1) + (j & 1), q = ((y - r0) * width + xx) * 3;
          for (let c = 0; c < 3; c++) {
            const v = roundEven(f32(255 * f32(x[p * 12 + 4 * c + at] + r[p * 16 + 4 * c + at])));
            out[q + c] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
        }
      }
    }
  }
  return out;
}
