// The float synthesis network: code maps to pixels (FORMAT.md section 9), float32 GEMMs (kernels.js)
// on activations kept zero-bordered in the kernels' heap.

import { kernels, convTPhases, winoBytes, ACC, RELU, RELU_IN } from './kernels.js';

const pad16 = (n) => Math.ceil(n / 16) * 16;

// A Conv2d layer (out, in, kh, kw), 1x1 or 3x3, its outputs padded with zeros to co: a 1x1 as
// the GEMM matrix w (in, co), a 3x3 by Winograd's transforms (conv3); the bias padded to co.
export function convLayer({ data, shape: [co0, ci, kh] }, bias, co = pad16(co0)) {
  const layer = { ci, co, b: new Float32Array(co) };
  layer.b.set(bias.data);
  if (kh === 3) {
    winograd(layer, 3, (i, o, a, c) => (o < co0 ? data[((o * ci + i) * 3 + a) * 3 + c] : 0));
  } else {
    layer.w = new Float32Array(ci * co);
    for (let o = 0; o < co0; o++) for (let i = 0; i < ci; i++) layer.w[i * co + o] = data[o * ci + i];
  }
  return layer;
}

// Winograd weights (kernels.wino) of a layer: 3x3 kernels g(in, out, ky, kx) (F(2x2, 3x3): U =
// G g G' per (in, out)), or 2x2 kernels (F(2x2, 2x2), per phase of an upsampling layer)
function winograd(layer, k, g, phases = 1) {
  const { ci, co } = layer, G = k === 3 ? [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]] : [[1, 0], [1, 1], [0, 1]];
  if (ci % 4) throw new Error(`a convolution of ${ci} channels (the kernels take multiples of 4)`);
  layer.wino = [];
  for (let ph = 0; ph < phases; ph++) for (const gx of G) for (const gv of G) {
    const m = new Float32Array(ci * co);
    for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) {
      let s = 0;
      for (let a = 0; a < k; a++) for (let c = 0; c < k; c++) if (gx[a] && gv[c]) s += gx[a] * gv[c] * g(i, o, a, c, ph);
      m[i * co + o] = s;
    }
    layer.wino.push(m);
  }
}

// A ConvTranspose2d 4x4 stride 2 padding 1 layer (in, out, 4, 4): its four output phases by
// Winograd F(2x2, 2x2), or, for few outputs (co < 16), a 3x3 convolution with the phases as
// 4 co outputs (the input at offset (r - 1, s - 1) feeds phase (py, px) where r - py and
// s - px are 0 or 1, through the taps convTPhases uses).
function upLayer(weight, bias) {
  const [ci, co] = weight.shape;
  if (co % 16 === 0) {
    const phases = convTPhases(weight, Float32Array);
    const L = { ci, co, phases, b: Float32Array.from(bias.data) };
    winograd(L, 2, (i, o, a, b, ph) => phases[ph * 2 + a][(b * ci + i) * co + o], 4);
    return L;
  }
  const N = pad16(4 * co), layer = { ci, co: N, b: new Float32Array(N) };
  for (let ph = 0; ph < 4; ph++) layer.b.set(bias.data, ph * co);
  winograd(layer, 3, (i, o, r, s) => {
    const ph = Math.floor(o / co), py = ph >> 1, px = ph & 1, a = r - py, b = s - px;
    if (ph > 3 || a < 0 || a > 1 || b < 0 || b > 1) return 0;
    return weight.data[((i * co + (o % co)) * 4 + 3 - 2 * a - py) * 4 + 3 - 2 * b - px];
  });
  return { ci, co, N, layer };
}

// the constants of layers, copied into the kernels' module ahead of a frame
export function prepare(layers) {
  for (const x of layers) {
    const l = x.layer || x;   // (an upsampling layer of few outputs: its 3x3 convolution)
    for (const m of l.wino || [l.w]) kernels.prepare(m, l.ci, l.co, true);
    kernels.table(l.b, Float32Array);
    if (l.taps) kernels.table(l.taps, Float32Array);
  }
}

// Zero-bordered activations: h rows of w pixels of c channels inside h + 4 rows of w + 2 (a
// zero row above, three below, a zero column on each side), from heap(); pixel (0, 0) at `at`.
export const bytesOf = (h, w, c) => 4 * (h + 4) * (w + 2) * c + 128;
export const padded = (h, w, c) => ({ h, w, c, at: (w + 3) * c, a: kernels.heap(Float32Array, (h + 4) * (w + 2) * c) });
export function clearBorder({ a, h, w, c }) {
  const wp = w + 2;
  for (let r = 1; r <= h; r++) { a.fill(0, r * wp * c, (r * wp + 1) * c); a.fill(0, ((r + 1) * wp - 1) * c, (r + 1) * wp * c); }
}

// 3x3 same convolution (zero padding) of x into y (y.c = layer.co), plus bias; flags RELU: of
// the output, RELU_IN: of the input
export const conv3 = (x, layer, y, flags = 0) => kernels.wino(x, layer, y, flags);

// 1x1: y = (flags & ACC ? y : 0) + x W + bias, over the pixels
function conv1(x, layer, y, flags) {
  kernels.gemm(x.a, x.at, x.c, layer.w, y.a, y.at, y.c, (x.h - 1) * (x.w + 2) + x.w, x.c, layer.co, flags, layer.b);
  clearBorder(y);
}

// an upLayer on x into y (2h, 2w, co) (flags as conv3's); the phase buffer f for few outputs
function up(x, L, y, flags, f) {
  if (L.phases) return kernels.wino(x, L, y, flags);
  conv3(x, L.layer, f, flags);
  const { co, N } = L, wp = x.w + 2, Wp = y.w + 2;
  for (let m = 0; m < x.h; m++) for (let n = 0; n < x.w; n++) for (let ph = 0; ph < 4; ph++) {
    const src = ((m + 1) * wp + n + 1) * N + ph * co, dst = ((2 * m + (ph >> 1) + 1) * Wp + 2 * n + (ph & 1) + 1) * co;
    for (let o = 0; o < co; o++) y.a[dst + o] = f.a[src + o];
  }
}

export function synthesisOf(t, config) {
  const v = { stride: 4, channels: 128, res_blocks: 2, synthesis_blocks: 0, ...config.vqvae };
  const W = (n) => t[`vqvae.${n}.weight`], B = (n) => t[`vqvae.${n}.bias`];
  const conv = (n) => convLayer(W(n), B(n));
  const net = {
    stride: v.stride,
    top: t['vqvae.quant_top.codebook'], bottom: t['vqvae.quant_bottom.codebook'],
    up: upLayer(W('upsample_top'), B('upsample_top')), blocks: [], ups: [],
  };
  // the first convolution: on the upsampled top vectors (channels 0..d-1) a GEMM, on the bottom
  // code vectors (d..2d-1) sums of tables: taps[ky, kx][code] = W[ky, kx, d.., :] vector
  const w0 = W('dec.0'), [co, ci] = w0.shape, d = ci / 2, Kb = net.bottom.shape[0];
  const top = new Float32Array(co * d * 9), taps = new Float32Array(9 * (Kb + 1) * co), e = net.bottom.data;
  for (let o = 0; o < co; o++) top.set(w0.data.subarray((o * ci) * 9, (o * ci + d) * 9), o * d * 9);
  for (let k = 0; k < 9; k++) for (let i = 0; i < d; i++) for (let o = 0; o < co; o++) {
    const wv = w0.data[(o * ci + d + i) * 9 + k];
    for (let code = 0; code < Kb; code++) taps[(k * (Kb + 1) + code) * co + o] += wv * e[code * d + i];
  }
  net.first = { ...convLayer({ data: top, shape: [co, d, 3, 3] }, B('dec.0')), taps };
  const nb = v.res_blocks + v.synthesis_blocks;
  for (let i = 1; i <= nb; i++) net.blocks.push([conv(`dec.${i}.body.1`), conv(`dec.${i}.body.3`)]);
  for (let m = nb + 2; t[`vqvae.dec.${m}.weight`]; m += 2) net.ups.push(upLayer(W(`dec.${m}`), B(`dec.${m}`)));
  net.layers = [net.up, net.first, ...net.blocks.flat(), ...net.ups];
  return net;
}

export const roundEven = (v) => { const r = Math.round(v); return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; };

// The network on one window: top (h, w) and bottom (2h, 2w) indices -> RGB bytes (2sh, 2sw).
function network(net, top, bottom, h, w) {
  const d = net.top.shape[1], H = 2 * h, W = 2 * w, C = net.first.co, RC = net.blocks.length ? net.blocks[0][0].co : 16, Kb = net.bottom.shape[0];
  let bytes = bytesOf(h, w, d) + bytesOf(H, W, d) + bytesOf(H, W, C) + bytesOf(H, W, RC) + 4 * (H + 2) * (W + 2) + 128 + winoBytes(W << Math.max(0, net.ups.length - 1), 128, 128);
  for (let k = 0, hh = H, ww = W; k < net.ups.length; k++, hh *= 2, ww *= 2) {
    const L = net.ups[k];
    bytes += bytesOf(2 * hh, 2 * ww, L.co) + (L.phases ? 0 : bytesOf(hh, ww, L.N));
  }
  prepare(net.layers);
  const release = kernels.frame(bytes);
  try {
    const qt = padded(h, w, d), x0 = padded(H, W, d), codes = kernels.heap(Int32Array, (H + 2) * (W + 2)).fill(Kb);
    for (let i = 0; i < h; i++) for (let j = 0, at = qt.at + i * (w + 2) * d; j < w; j++, at += d) {
      for (let e = 0, s = top[i * w + j] * d; e < d; e++) qt.a[at + e] = net.top.data[s + e];
    }
    up(qt, net.up, x0, 0);                      // channels 0..d-1 (its phases: net.up.co = d)
    for (let i = 0; i < H; i++) codes.set(bottom.subarray(i * W, (i + 1) * W), (i + 1) * (W + 2) + 1);
    let x = padded(H, W, C);
    conv3(x0, net.first, x);
    kernels.taps(x.a, x.at, codes, net.first.taps, H, W, C, Kb);
    const r = padded(H, W, RC);
    for (const [c1, c2] of net.blocks) {
      conv3(x, c1, r, RELU_IN | RELU);
      conv1(r, c2, x, ACC);
    }
    for (const [k, L] of net.ups.entries()) {   // a ReLU before each
      const y = padded(2 * x.h, 2 * x.w, L.co);
      up(x, L, y, (k ? 0 : RELU_IN) | (k < net.ups.length - 1 ? RELU : 0), L.phases ? null : padded(x.h, x.w, L.N));
      x = y;
    }
    const rgb = new Uint8Array(x.h * x.w * 3), a = x.a;
    for (let i = 0, n = 0; i < x.h; i++) {
      for (let k = x.at + i * (x.w + 2) * x.c, end = k + x.w * x.c; k < end; k += x.c) for (let c = 0; c < 3; c++, n++) {
        let v = Math.fround(a[k + c] + 0.5);
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        rgb[n] = roundEven(Math.fround(v * 255));
      }
    }
    return rgb;
  } finally {
    release();
  }
}

// Rows of the image: pixel rows [S v0, S v1) (v0, v1 in top codes; S pixels per code) of the
// windowed network (FORMAT.md 8.2), RGB bytes of those rows (cropped to the image). Within a
// window the network runs on the band's top rows plus `guard` codes beyond (more than the
// network's reach), so every kept pixel is computed exactly as in the whole window.
export function synthesizeRows(net, maps, sizes, width, height, v0, v1, progress) {
  const [[H0, W0], [, W1]] = sizes, S = 2 * net.stride, win = 1024 / S, halo = 32 / S;
  const guard = Math.ceil((net.blocks.length + 7) / 2) + 2;
  const r0 = Math.min(S * v0, height), r1 = Math.min(S * v1, height);
  const out = new Uint8Array(width * (r1 - r0) * 3);
  const spans = (n) => { const s = []; for (let a = 0; a < n; a += win) s.push([a, Math.min(a + win, n)]); return s; };
  const windows = [];
  for (const [y0, y1] of spans(H0)) {
    const u0 = Math.max(y0, v0), u1 = Math.min(y1, v1);
    if (u0 < u1) for (const xs of spans(W0)) windows.push([y0, y1, u0, u1, xs]);
  }
  windows.forEach(([y0, y1, u0, u1, [x0, x1]], n) => {
    const a0 = Math.max(0, y0 - halo, u0 - guard), a1 = Math.min(H0, y1 + halo, u1 + guard);
    const b0 = Math.max(0, x0 - halo), b1 = Math.min(W0, x1 + halo);
    const h = a1 - a0, w = b1 - b0, top = new Int32Array(h * w), bottom = new Int32Array(4 * h * w);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) top[i * w + j] = maps[0][(a0 + i) * W0 + b0 + j];
    for (let i = 0; i < 2 * h; i++) for (let j = 0; j < 2 * w; j++) bottom[i * 2 * w + j] = maps[1][(2 * a0 + i) * W1 + 2 * b0 + j];
    const rgb = network(net, top, bottom, h, w), pw = S * w;
    for (let y = S * u0; y < Math.min(S * u1, height); y++) {
      const sy = y - S * a0, x1p = Math.min(S * x1, width);
      out.set(rgb.subarray((sy * pw + S * x0 - S * b0) * 3, (sy * pw + x1p - S * b0) * 3), ((y - r0) * width + S * x0) * 3);
    }
    if (progress) progress(n + 1, windows.length);
  });
  return out;
}
