// The integer prior int8-prior-1 (FORMAT.md sections 3-4) and the decoding of the code maps.

import { VqzError, mapSizes, tileRects } from './container.js';
import { RangeDecoder, tableOfIntegerRow } from './rangecoder.js';
import { kernels } from './kernels.js';

const GROUP_POSITIONS = 8192;     // bottom-map codes decoded in lockstep (bounds memory)

// One level's tensors, with the weights as float32 matrices for the GEMM.
function levelTensors(t, level, cfg) {
  const g = (n) => t[`${level}.${n}`];
  const int8 = (n) => g(n).data;   // (K, N) matrices
  const layer = (n) => ({ b: Int32Array.from(g(`${n}.b`).data), sh: Int32Array.from(g(`${n}.sh`).data) });
  const p = { cfg, K: cfg.codes, E: cfg.embed_dim, C: cfg.channels, L: cfg.layers };
  p.embed = g('embed').data; p.exp = g('exp').data;
  p.first = { w: int8('first.w'), ...layer('first') };
  p.conv = [], p.mix = [], p.lutConv = [], p.lutMix = [];
  for (let l = 0; l < p.L; l++) {
    p.conv.push({ w: int8(`conv${l}.w`), ...layer(`conv${l}`) });
    p.mix.push({ w: int8(`mix${l}.w`), ...layer(`mix${l}`) });
    p.lutConv.push(g(`lut.conv${l}`).data); p.lutMix.push(g(`lut.mix${l}`).data);
  }
  p.head1 = { w: int8('head1.w'), ...layer('head1') }; p.lutHead1 = g('lut.head1').data;
  p.head2 = { w: int8('head2.w'), ...layer('head2') }; p.lutHead2 = g('lut.head2').data;
  // the masked layers' weights split into the taps of the row above and of the current row
  const split = (m, rows, cin, n) => { m.w1 = m.w.subarray(0, rows * cin * n); m.w2 = m.w.subarray(rows * cin * n); };
  split(p.first, 3, p.E, p.C);
  p.conv.forEach((m) => split(m, 3, p.C, p.C));
  p.matrices = [[p.first.w1, 3 * p.E, p.C], [p.first.w2, p.E, p.C], [p.head1.w, p.C, p.C], [p.head2.w, p.C, p.K]];
  for (let l = 0; l < p.L; l++) p.matrices.push([p.conv[l].w1, 3 * p.C, p.C], [p.conv[l].w2, 2 * p.C, p.C], [p.mix[l].w, p.C, p.C]);
  if (cfg.cond_codes > 0) {
    const conv3 = (n) => {        // (out, in, 3, 3) -> rows (dy, dx, in), columns out
      const { data, shape: [co, ci] } = g(n);
      const w = new Int8Array(9 * ci * co);
      for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) for (let k = 0; k < 9; k++) w[(k * ci + i) * co + o] = data[(o * ci + i) * 9 + k];
      return w;
    };
    const up = g('cond.up.w'), [ci, co] = up.shape;   // (in, out, 4, 4) -> rows in, columns (ky, kx, out)
    const wu = new Int8Array(ci * 16 * co);
    for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) for (let k = 0; k < 16; k++) wu[i * 16 * co + k * co + o] = up.data[(i * co + o) * 16 + k];
    const out = g('cond.out.w'), [oo, oi] = out.shape;
    const wo = new Int8Array(oi * oo);
    for (let o = 0; o < oo; o++) for (let i = 0; i < oi; i++) wo[i * oo + o] = out.data[o * oi + i];
    p.cond = {
      embed: g('cond.embed').data, E: g('cond.embed').shape[1], CC: ci,
      conv0: { w: conv3('cond.conv0.w'), ...layer('cond.conv0') }, conv1: { w: conv3('cond.conv1.w'), ...layer('cond.conv1') },
      up: { w: wu, ...layer('cond.up') }, out: { w: wo, ...layer('cond.out') }, OUT: oo,
      lut: [g('lut.cond0').data, g('lut.cond1').data, g('lut.cond2').data],
    };
  }
  return p;
}

export function priorOf(tensors, config) {
  return { top: levelTensors(tensors, 'top', config.prior_top), bottom: levelTensors(tensors, 'bottom', config.prior_bottom) };
}

const clamp16 = (v) => (v < -32768 ? -32768 : v > 32767 ? 32767 : v);
// every |acc + B| is below 2^31 (2^22 for the shipped models): int32 shifts are exact
const requant = (acc, layer, c) => { const sh = layer.sh[c]; return sh >= 0 ? (acc + layer.b[c]) >> sh : (acc + layer.b[c]) * (1 << -sh); };
const G = (v, lut) => lut[(v >> 4) + 2048];

const scratch = {};
function buf(n, which, Type = Int16Array) {
  if (!scratch[which] || scratch[which].length < n) scratch[which] = new Type(Math.max(n, 1024));
  return scratch[which];
}

// 3x3 convolution (zero padding) of x (h, w, ci) with rows (dy, dx, ci), requant, G.
function conv3(x, h, w, ci, layer, co, lut) {
  const out = new Int16Array(h * w * co), col = buf(w * 9 * ci, 'col'), acc = buf(w * co, 'acc', Int32Array);
  for (let i = 0; i < h; i++) {
    col.fill(0, 0, w * 9 * ci);
    for (let j = 0; j < w; j++) for (let k = 0; k < 9; k++) {
      const y = i + ((k / 3) | 0) - 1, xx = j + (k % 3) - 1;
      if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
      col.set(x.subarray((y * w + xx) * ci, (y * w + xx + 1) * ci), (j * 9 + k) * ci);
    }
    kernels.igemm(col, layer.w, acc, w, 9 * ci, co);
    for (let j = 0; j < w; j++) for (let c = 0; c < co; c++) out[(i * w + j) * co + c] = G(clamp16(requant(acc[j * co + c], layer, c)), lut);
  }
  return out;
}

// Conditioning features of one top tile (h, w indices): (2h, 2w, C (L + 1)) (FORMAT.md 4.3).
function conditioning(cp, top, h, w) {
  const { E, CC } = cp;
  const x0 = new Int16Array(h * w * E);
  for (let i = 0; i < h * w; i++) x0.set(cp.embed.subarray(top[i] * E, (top[i] + 1) * E), i * E);
  const x1 = conv3(x0, h, w, E, cp.conv0, CC, cp.lut[0]);
  const x2 = conv3(x1, h, w, CC, cp.conv1, CC, cp.lut[1]);
  // transposed 4x4 stride 2 padding 1: every input times all 16 kernel taps, scattered
  const H = 2 * h, W = 2 * w, up = new Int32Array(H * W * CC);
  const prod = buf(w * 16 * CC, 'upout', Int32Array);
  for (let i = 0; i < h; i++) {
    kernels.igemm(x2.subarray(i * w * CC, (i + 1) * w * CC), cp.up.w, prod, w, CC, 16 * CC);
    for (let j = 0; j < w; j++) for (let ky = 0; ky < 4; ky++) for (let kx = 0; kx < 4; kx++) {
      const y = 2 * i - 1 + ky, x = 2 * j - 1 + kx;
      if (y < 0 || y >= H || x < 0 || x >= W) continue;
      const src = (j * 16 + ky * 4 + kx) * CC, dst = (y * W + x) * CC;
      for (let c = 0; c < CC; c++) up[dst + c] += prod[src + c];
    }
  }
  const x3 = new Int16Array(H * W * CC);
  for (let i = 0; i < H * W; i++) for (let c = 0; c < CC; c++) x3[i * CC + c] = G(clamp16(requant(up[i * CC + c], cp.up, c)), cp.lut[2]);
  const OUT = cp.OUT, f = new Int32Array(H * W * OUT), acc = buf(W * OUT, 'condout', Int32Array);
  for (let i = 0; i < H; i++) {
    kernels.igemm(x3.subarray(i * W * CC, (i + 1) * W * CC), cp.out.w, acc, W, CC, OUT);
    for (let j = 0; j < W; j++) for (let c = 0; c < OUT; c++) {
      const v = requant(acc[j * OUT + c], cp.out, c);
      f[(i * W + j) * OUT + c] = v < -65536 ? -65536 : v > 65536 ? 65536 : v;
    }
  }
  return f;
}

// Logits row -> frequencies summing to 2^23 (FORMAT.md 4.5), into f.
function frequencies(logits, K, EXP, f) {
  let max = -Infinity, arg = 0;
  for (let s = 0; s < K; s++) if (logits[s] > max) { max = logits[s]; arg = s; }
  let sum = 0;
  for (let s = 0; s < K; s++) { const d = max - logits[s]; f[s] = EXP[d > 1023 ? 1023 : d]; sum += f[s]; }
  const num = (2 ** 23 - K) * 2 ** 29;
  let M = Math.floor(num / sum);
  while (M * sum > num) M--;
  while ((M + 1) * sum <= num) M++;
  let total = 0;
  for (let s = 0; s < K; s++) { f[s] = Math.floor((f[s] * M) / 2 ** 29) + 1; total += f[s]; }
  f[arg] += 2 ** 23 - total;
  return f;
}

// clamp16(requant(Y) + cond) for N rows of C (cond: the tile's rows at `offset`, or none),
// into x (Int32Array), or through the table `lut` into X (Int16Array).
function withCond(Y, N, C, layer, st, ps, pi, pj, CL, offset, x, lut, X) {
  const { b, sh } = layer;
  for (let n = 0; n < N; n++) {
    const s = st[ps[n]], cond = s.cond, o = n * C, cb = (pi[n] * s.w + pj[n]) * CL + offset;
    for (let c = 0; c < C; c++) {
      const k = sh[c], u = Y[o + c] + b[c];
      const v = clamp16((k >= 0 ? u >> k : u * (1 << -k)) + (cond !== null ? cond[cb + c] : 0));
      if (lut === null) x[o + c] = v; else X[o + c] = G(v, lut);
    }
  }
}

// x = clamp16(x + requant(Y))
function residual(x, Y, N, C, { b, sh }) {
  for (let k = 0, n = 0; n < N; n++) for (let c = 0; c < C; c++, k++) { const u = Y[k] + b[c]; x[k] = clamp16(x[k] + (sh[c] >= 0 ? u >> sh[c] : u * (1 << -sh[c]))); }
}

// G(x) of layer l stored at the wavefront's positions of every tile
function store(st, ps, pi, pj, N, C, l, x, lut) {
  for (let n = 0; n < N; n++) {
    const s = st[ps[n]], A = s.A[l], at = ((pi[n] + 1) * s.ws + pj[n] + 1) * C;
    for (let c = 0; c < C; c++) A[at + c] = G(x[n * C + c], lut);
  }
}

// A masked layer at the wavefront's positions, tile by tile, reading the stored inputs in
// place: with a zero row above and a zero column on each side of a tile, position (i, t - 2i)
// has its taps (-1,-1..1) at element (i w + t) CIN (3 CIN values) and (0,-1..0) ws CIN
// further (the rest), so the positions' rows are w CIN apart: two products, no gathering.
function masked(st, runs, src, CIN, t, w1, w2, kTop, kLow, Y, COUT) {
  for (const [k, n0, i0, m] of runs) {
    const s = st[k], A = src(s), at = (i0 * s.w + t) * CIN;
    kernels.igemmAt(A, at, s.w * CIN, w1, Y, n0 * COUT, m, kTop, COUT, false);
    kernels.igemmAt(A, at + s.ws * CIN, s.w * CIN, w2, Y, n0 * COUT, m, kLow, COUT, true);
  }
}

const heapBytes = (n, bpe) => Math.ceil((n * bpe) / 64) * 64 + 64;

// Decode every tile of one level into `map` (H x W, Int32Array), in lockstep over the
// wavefronts. tiles: [{rect: [r0, r1, c0, c1], stream, cond}]. Per tile, the embeddings and
// each masked layer's inputs G(x) are kept (int16) in the kernels' heap.
function decodeLevel(p, map, W, tiles, onStep) {
  const { K, E, C, L } = p, CL = C * (L + 1);
  const dims = tiles.map((t) => [t.rect[1] - t.rect[0], t.rect[3] - t.rect[2]]);
  const most = dims.reduce((n, [h, w]) => n + Math.min(h, Math.ceil(w / 2)), 0) + 2;
  let bytes = heapBytes(most * C, 2) + heapBytes(most * Math.max(C, K), 4);
  for (const [h, w] of dims) bytes += heapBytes((h + 3) * (w + 2) * E, 2) + L * heapBytes((h + 3) * (w + 2) * C, 2);
  for (const [w, k, n] of p.matrices) kernels.prepare(w, k, n);
  const release = kernels.frame(bytes);
  try {
    const X = kernels.heap(Int16Array, most * C), Y = kernels.heap(Int32Array, most * Math.max(C, K));
    const st = tiles.map((t, k) => {
      const [h, w] = dims[k], ws = w + 2, n = (h + 3) * ws;
      const emb = kernels.heap(Int16Array, n * E), A = [];
      for (let l = 0; l < L; l++) A.push(kernels.heap(Int16Array, n * C));
      return { rect: t.rect, cond: t.cond || null, h, w, ws, dec: new RangeDecoder(t.stream), emb, A };
    });
    const steps = Math.max(...st.map((s) => s.w + 2 * (s.h - 1)));
    const f = new Float64Array(K), cum = new Float64Array(K + 1), lg = new Int32Array(K), x = new Int32Array(most * C);
    const ps = new Int32Array(most), pi = new Int32Array(most), pj = new Int32Array(most);
    const embOf = (s) => s.emb;
    for (let t = 0; t < steps; t++) {
      let N = 0;
      const runs = [];    // [tile, first row in the wavefront, first i, count]
      st.forEach((s, k) => {
        const i0 = Math.max(0, Math.ceil((t - s.w + 1) / 2)), i1 = Math.min(s.h, Math.floor(t / 2) + 1);
        if (i1 <= i0) return;
        runs.push([k, N, i0, i1 - i0]);
        for (let i = i0; i < i1; i++) { ps[N] = k; pi[N] = i; pj[N] = t - 2 * i; N++; }
      });
      if (!N) continue;
      masked(st, runs, embOf, E, t, p.first.w1, p.first.w2, 3 * E, E, Y, C);
      withCond(Y, N, C, p.first, st, ps, pi, pj, CL, 0, x, null, null);
      for (let l = 0; l < L; l++) {
        store(st, ps, pi, pj, N, C, l, x, p.lutConv[l]);
        masked(st, runs, (s) => s.A[l], C, t, p.conv[l].w1, p.conv[l].w2, 3 * C, 2 * C, Y, C);
        withCond(Y, N, C, p.conv[l], st, ps, pi, pj, CL, (l + 1) * C, null, p.lutMix[l], X);
        kernels.igemmAt(X, 0, C, p.mix[l].w, Y, 0, N, C, C, false);
        residual(x, Y, N, C, p.mix[l]);
      }
      for (let k = 0; k < N * C; k++) X[k] = G(x[k], p.lutHead1);
      kernels.igemmAt(X, 0, C, p.head1.w, Y, 0, N, C, C, false);
      for (let k = 0, n = 0; n < N; n++) for (let c = 0; c < C; c++, k++) X[k] = G(clamp16(requant(Y[k], p.head1, c)), p.lutHead2);
      kernels.igemmAt(X, 0, C, p.head2.w, Y, 0, N, C, K, false);
      for (let n = 0; n < N; n++) {
        const s = st[ps[n]], i = pi[n], j = pj[n];
        for (let c = 0; c < K; c++) lg[c] = requant(Y[n * K + c], p.head2, c);
        frequencies(lg, K, p.exp, f);
        tableOfIntegerRow(f, K, 23, cum);
        const sym = s.dec.decode(cum, K);
        if (sym >= K) throw new VqzError('damaged stream (index outside the codebook)');
        map[(s.rect[0] + i) * W + s.rect[2] + j] = sym;
        for (let e = 0, o = ((i + 1) * s.ws + j + 1) * E; e < E; e++) s.emb[o + e] = p.embed[sym * E + e];
      }
      if (onStep) onStep(N);
    }
  } finally {
    release();
  }
}

// Groups of tiles (indices) decoded in lockstep, at most GROUP_POSITIONS codes of a level each.
function groups(rects, tiles, level) {
  const out = [];
  let codes = 0;
  for (const n of tiles) {
    const [r0, r1, c0, c1] = rects[n][level], size = (r1 - r0) * (c1 - c0);
    if (!out.length || codes + size > GROUP_POSITIONS) { out.push([]); codes = 0; }
    out[out.length - 1].push(n);
    codes += size;
  }
  return out;
}

// The tiles of a file: [[top rect, bottom rect]] (FORMAT.md 3.2), the layout checked.
export function tilesOf(h, stride) {
  const sizes = mapSizes(h.width, h.height, stride);
  const rects = tileRects(sizes[0], h.tile);
  if (h.maps !== 2 || rects.length !== h.lengths.length) throw new VqzError('the tile layout does not fit the model');
  for (const [, [r0, r1, c0, c1]] of rects) if ((r1 - r0) * (c1 - c0) > 65536) throw new VqzError('a tile holds too many codes');
  return { sizes, rects };
}

// Decode the code maps of a parsed file (FORMAT.md 3.3): every tile, or the tiles `only`
// (indices; the rest of the maps stays 0). progress(done, total) in codes.
export function decodeMaps(h, prior, stride, progress, only = null) {
  const { sizes, rects } = tilesOf(h, stride);
  const tiles = only || rects.map((_, n) => n);
  const maps = sizes.map(([hh, ww]) => new Int32Array(hh * ww));
  const count = (lv) => tiles.reduce((n, k) => { const [r0, r1, c0, c1] = rects[k][lv]; return n + (r1 - r0) * (c1 - c0); }, 0);
  const total = count(0) + count(1);
  let done = 0;
  const step = (n) => { done += n; if (progress) progress(done, total); };
  for (const group of groups(rects, tiles, 0)) {
    decodeLevel(prior.top, maps[0], sizes[0][1], group.map((n) => ({ rect: rects[n][0], stream: h.streams[n][0] })), step);
  }
  const W0 = sizes[0][1];
  for (const group of groups(rects, tiles, 1)) {          // each conditioned on its top tile
    decodeLevel(prior.bottom, maps[1], sizes[1][1], group.map((n) => {
      const [q0, q1, s0, s1] = rects[n][0], th = q1 - q0, tw = s1 - s0, top = new Int32Array(th * tw);
      for (let i = 0; i < th; i++) for (let j = 0; j < tw; j++) top[i * tw + j] = maps[0][(q0 + i) * W0 + s0 + j];
      return { rect: rects[n][1], stream: h.streams[n][1], cond: conditioning(prior.bottom.cond, top, th, tw) };
    }), step);
  }
  return { maps, sizes };
}
