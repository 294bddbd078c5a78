// The float synthesis network: code maps to pixels (FORMAT.md section 9), float32 GEMMs.

import { kernels } from './kernels.js';

const scratch = {};
function buf(n, which) {
  if (!scratch[which] || scratch[which].length < n) scratch[which] = new Float32Array(Math.max(n, 1024));
  return scratch[which];
}

// Conv2d (out, in, kh, kw) -> rows (ky, kx, in), columns out (padded with zero columns to co).
function convRows({ data, shape: [co0, ci, kh, kw] }, co = co0) {
  const w = new Float32Array(kh * kw * ci * co);
  for (let o = 0; o < co0; o++) for (let i = 0; i < ci; i++) for (let k = 0; k < kh * kw; k++) w[(k * ci + i) * co + o] = data[((o * ci + i) * kh * kw) + k];
  return { w, ci, co, k: kh };
}
// ConvTranspose2d (in, out, 4, 4) -> rows in, columns (ky, kx, out).
function convTRows({ data, shape: [ci, co, kh, kw] }) {
  const w = new Float32Array(ci * kh * kw * co);
  for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) for (let k = 0; k < kh * kw; k++) w[i * kh * kw * co + k * co + o] = data[(i * co + o) * kh * kw + k];
  return { w, ci, co };
}

// A Conv2d layer for conv(): weights as GEMM rows (3x3: one matrix per kernel row, to be
// prepared before a frame: prepareConv), bias; `co` pads the outputs to a multiple of 16.
export function convLayer(weight, bias, co = weight.shape[0]) {
  const c = { ...convRows(weight, co), b: new Float32Array(co) };
  c.b.set(bias.data);
  if (c.k === 3) {
    const size = 3 * c.ci * c.co;
    c.rows = [0, 1, 2].map((ky) => c.w.subarray(ky * size, (ky + 1) * size));
  }
  return c;
}
export const prepareConv = (c) => c.rows && c.rows.forEach((r) => kernels.prepare(r, 3 * c.ci, c.co, true));

export function synthesisOf(t, config) {
  const v = { stride: 4, channels: 128, res_blocks: 2, synthesis_blocks: 0, ...config.vqvae };
  const W = (n) => t[`vqvae.${n}.weight`], B = (n) => t[`vqvae.${n}.bias`].data;
  const convs = [];
  const conv = (n) => { const c = convLayer(W(n), t[`vqvae.${n}.bias`]); convs.push(c); return c; };
  const net = {
    stride: v.stride,
    top: t['vqvae.quant_top.codebook'], bottom: t['vqvae.quant_bottom.codebook'],
    up: { ...convTRows(W('upsample_top')), b: B('upsample_top') },
    first: conv('dec.0'), blocks: [], ups: [], convs,
  };
  const nb = v.res_blocks + v.synthesis_blocks;
  for (let i = 1; i <= nb; i++) net.blocks.push([conv(`dec.${i}.body.1`), conv(`dec.${i}.body.3`)]);
  for (let m = nb + 2; t[`vqvae.dec.${m}.weight`]; m += 2) net.ups.push({ ...convTRows(W(`dec.${m}`)), b: B(`dec.${m}`) });
  return net;
}

// Same-size convolution, zero padding, k in {1, 3}: x (h, w, ci) -> (h, w, co), + bias,
// optional ReLU on the input. 3x3: the input, rectified, goes once into a zero-bordered buffer
// of the kernels' heap (rows wp = w + 2 wide); output (i, j) for kernel row ky reads the 3 ci
// values at ((i + ky) wp + j) ci: rows ci apart, so three accumulating products in place
// (with wp - w junk outputs per row, dropped).
export function conv(x, h, w, layer, reluIn) {
  const { ci, co, b } = layer, out = new Float32Array(h * w * co);
  if (layer.k === 1) {
    const a = reluIn ? x.map((v) => (v < 0 ? 0 : v)) : x, acc = new Float32Array(h * w * co);
    kernels.gemm(a, layer.w, acc, h * w, ci, co);
    for (let p = 0, o = 0; p < h * w; p++) for (let c = 0; c < co; c++, o++) out[o] = acc[o] + b[c];
    return out;
  }
  const wp = w + 2, n = (h + 3) * wp * ci, m = (h * wp + 2) * co;
  const release = kernels.frame(4 * (n + m) + 256);
  try {
    const xp = kernels.heap(Float32Array, n), acc = kernels.heap(Float32Array, m);
    for (let i = 0; i < h; i++) {
      const src = i * w * ci, dst = ((i + 1) * wp + 1) * ci;
      if (reluIn) for (let e = 0; e < w * ci; e++) { const v = x[src + e]; xp[dst + e] = v < 0 ? 0 : v; }
      else xp.set(x.subarray(src, src + w * ci), dst);
    }
    for (let ky = 0; ky < 3; ky++) kernels.gemmAt(xp, ky * wp * ci, ci, layer.rows[ky], acc, 0, h * wp, 3 * ci, co, ky > 0);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const o = (i * w + j) * co, q = (i * wp + j) * co;
      for (let c = 0; c < co; c++) out[o + c] = acc[q + c] + b[c];
    }
  } finally {
    release();
  }
  return out;
}

// ConvTranspose2d 4x4, stride 2, padding 1: x (h, w, ci) -> (2h, 2w, co), + bias, optional
// ReLU on the input. Every input row times all 16 taps (one GEMM), scattered.
function convT(x, h, w, layer, reluIn, outStride = layer.co, outOffset = 0, out = null) {
  const { ci, co, b } = layer, H = 2 * h, Wd = 2 * w;
  out = out || new Float32Array(H * Wd * outStride);
  for (let p = 0; p < H * Wd; p++) for (let c = 0; c < co; c++) out[p * outStride + outOffset + c] = b[c];
  const a = buf(w * ci, 'tin'), prod = buf(w * 16 * co, 'tout');
  for (let i = 0; i < h; i++) {
    for (let n = 0; n < w * ci; n++) { const val = x[i * w * ci + n]; a[n] = reluIn && val < 0 ? 0 : val; }
    kernels.gemm(a, layer.w, prod, w, ci, 16 * co);
    for (let j = 0; j < w; j++) for (let ky = 0; ky < 4; ky++) {
      const y = 2 * i - 1 + ky;
      if (y < 0 || y >= H) continue;
      for (let kx = 0; kx < 4; kx++) {
        const xx = 2 * j - 1 + kx;
        if (xx < 0 || xx >= Wd) continue;
        const src = (j * 16 + ky * 4 + kx) * co, dst = (y * Wd + xx) * outStride + outOffset;
        for (let c = 0; c < co; c++) out[dst + c] += prod[src + c];
      }
    }
  }
  return out;
}

export const roundEven = (v) => { const r = Math.round(v); return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; };

// The network on one window: top (h, w) and bottom (2h, 2w) indices -> RGB bytes (2sh, 2sw).
function network(net, top, bottom, h, w) {
  const d = net.top.shape[1], H = 2 * h, W = 2 * w;
  const qt = new Float32Array(h * w * d);
  for (let n = 0; n < h * w; n++) qt.set(net.top.data.subarray(top[n] * d, (top[n] + 1) * d), n * d);
  const x0 = convT(qt, h, w, net.up, false, 2 * d, 0);           // channels 0..d-1
  for (let n = 0; n < H * W; n++) x0.set(net.bottom.data.subarray(bottom[n] * d, (bottom[n] + 1) * d), n * 2 * d + d);
  let x = conv(x0, H, W, net.first, false);
  for (const [c1, c2] of net.blocks) {
    const y = conv(conv(x, H, W, c1, true), H, W, c2, true);
    for (let n = 0; n < x.length; n++) x[n] += y[n];
  }
  let hh = H, ww = W;
  net.ups.forEach((layer, n) => { x = convT(x, hh, ww, layer, true); hh *= 2; ww *= 2; });  // ReLU before each
  const rgb = new Uint8Array(hh * ww * 3);
  for (let n = 0; n < rgb.length; n++) {
    let v = Math.fround(x[n] + 0.5);
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    rgb[n] = roundEven(Math.fround(v * 255));
  }
  return rgb;
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
  net.convs.forEach(prepareConv);
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

// The whole image: (height, width, 3) RGB bytes.
export function synthesize(net, maps, sizes, width, height, progress) {
  return synthesizeRows(net, maps, sizes, width, height, 0, sizes[0][0], progress);
}
