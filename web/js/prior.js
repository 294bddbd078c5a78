// The integer prior int8-prior-1 (FORMAT.md sections 3-4) and the decoding of the code maps.

import { VqzError, mapSizes, tileRects } from './container.js';
import { kernels, convTPhases, heapBytes, ACC } from './kernels.js';

const GROUP_POSITIONS = 8192;     // bottom-map codes decoded in lockstep (bounds memory)

// One level's tensors, with the weights as matrices (K, N) for the GEMMs, N a layer's outputs;
// p.layers and p.luts: everything kernels.js copies ahead.
function levelTensors(t, level, cfg) {
  const g = (n) => t[`${level}.${n}`];
  const int8 = (n) => g(n).data;   // (K, N) matrices
  // a layer's requantization (FORMAT.md 4.2) in the module's form (kernels.js rq): (y + b) mul
  // >> S, mul = 2^(S - sh), S the largest shift; the shipped models' shifts are all in 0..30
  const layer = (n) => {
    const l = { b: Int32Array.from(g(`${n}.b`).data), sh: Int32Array.from(g(`${n}.sh`).data) };
    if (!l.sh.every((k) => k >= 0 && k <= 30)) throw new VqzError(`prior layer ${level}.${n}: shifts outside 0..30 are not supported here`);
    l.S = Math.max(...l.sh);
    l.mul = Int32Array.from(l.sh, (k) => 2 ** (l.S - k));
    return l;
  };
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
  p.layers = [p.first, ...p.conv, ...p.mix, p.head1, p.head2];
  p.luts = [...p.lutConv, ...p.lutMix, p.lutHead1, p.lutHead2];
  if (cfg.cond_codes > 0) {
    const conv3 = (n) => {        // (out, in, 3, 3) -> per kernel row: rows (dx, in), columns out
      const { data, shape: [co, ci] } = g(n);
      const w = new Int8Array(9 * ci * co);
      for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) for (let k = 0; k < 9; k++) w[(k * ci + i) * co + o] = data[(o * ci + i) * 9 + k];
      return { rows: [0, 1, 2].map((ky) => w.subarray(ky * 3 * ci * co, (ky + 1) * 3 * ci * co)), ...layer(n.slice(0, -2)) };
    };
    const up = g('cond.up.w'), out = g('cond.out.w'), [oo, oi] = out.shape, CC = up.shape[0];
    const wo = new Int8Array(oi * oo);
    for (let o = 0; o < oo; o++) for (let i = 0; i < oi; i++) wo[i * oo + o] = out.data[o * oi + i];
    const cp = p.cond = {
      embed: g('cond.embed').data, E: g('cond.embed').shape[1], CC,
      conv0: conv3('cond.conv0.w'), conv1: conv3('cond.conv1.w'),
      up: { phases: convTPhases(up, Int8Array), ...layer('cond.up') }, out: { w: wo, ...layer('cond.out') },
      lut: [g('lut.cond0').data, g('lut.cond1').data, g('lut.cond2').data],
    };
    p.layers.push(cp.conv0, cp.conv1, cp.up, cp.out);
    p.luts.push(...cp.lut);
  }
  // the module's products take N a multiple of 16 and K even (all the shipped models' sizes)
  const cp = p.cond || { CC: 16, E: 2 };
  if ([p.C, p.K, cp.CC].some((n) => n % 16) || [p.E, cp.E].some((n) => n % 2)) throw new VqzError(`prior ${level}: sizes these kernels do not support`);
  return p;
}

export function priorOf(tensors, config) {
  return { top: levelTensors(tensors, 'top', config.prior_top), bottom: levelTensors(tensors, 'bottom', config.prior_bottom) };
}

const I16 = { lo: -32768, hi: 32767 };

// The upsampling of the conditioning (ConvTranspose2d 4x4 stride 2, its phases by
// kernels.js convTPhases): x zero-bordered (h + 3 rows of w + 2 pixels, c channels) into out
// (2h, 2w, c) int32.
function convT(x, h, w, c, phases, out) {
  for (let m = 0; m < h; m++) for (let py = 0; py < 2; py++) for (let px = 0; px < 2; px++) for (let a = 0; a < 2; a++) {
    kernels.igemm(x, ((m + a + py) * (w + 2) + px) * c, c, phases[(py * 2 + px) * 2 + a], out, ((2 * m + py) * 2 * w + px) * c, 2 * c, w, 2 * c, c, a ? ACC : 0);
  }
}

// Conditioning features of one top tile (h, w indices) into x3 (2h, 2w, CC) int16, before the
// final 1x1 convolution, which runs per wavefront (FORMAT.md 4.3). ws: scratch from heap(),
// x0 (E channels), x1, x2 (CC) zero-bordered ((h + 3) rows of w + 2), acc.
function conditioning(cp, top, h, w, x3, ws) {
  const { E, CC } = cp, wp = w + 2, M = h * wp - 2, { x0, x1, x2, acc } = ws;
  for (const a of [x0, x1, x2]) a.fill(0);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) { const s = top[i * w + j] * E; x0.set(cp.embed.subarray(s, s + E), ((i + 1) * wp + j + 1) * E); }
  // 3x3, zero padding: output (i, j) for kernel row ky reads the 3 ci values at
  // ((i + ky) wp + j) ci, rows ci apart (wp - w junk outputs per row, into the border, cleared)
  const conv = (src, ci, layer, lut, dst) => {
    for (let ky = 0; ky < 3; ky++) kernels.igemm(src, ky * wp * ci, ci, layer.rows[ky], acc, 0, CC, M, 3 * ci, CC, ky ? ACC : 0);
    kernels.rq({ rows: M, cols: CC, y: [acc, 0, CC], d16: [dst, (wp + 1) * CC, CC], layer, lut, ...I16 });
    for (let r = 1; r <= h; r++) { dst.fill(0, r * wp * CC, (r * wp + 1) * CC); dst.fill(0, ((r + 1) * wp - 1) * CC, (r + 1) * wp * CC); }
  };
  conv(x0, E, cp.conv0, cp.lut[0], x1);
  conv(x1, CC, cp.conv1, cp.lut[1], x2);
  convT(x2, h, w, CC, cp.up.phases, acc);
  kernels.rq({ rows: 4 * h * w, cols: CC, y: [acc, 0, CC], d16: [x3, 0, CC], layer: cp.up, lut: cp.lut[2], ...I16 });
}

// A masked layer at the wavefront's positions, tile by tile, reading the stored inputs in
// place: with a zero row above and a zero column on each side of a tile, position (i, t - 2i)
// has its taps (-1,-1..1) at element (i w + t) CIN (3 CIN values) and (0,-1..0) ws CIN
// further (the rest), so the positions' rows are w CIN apart: two products, no gathering.
function masked(st, runs, src, CIN, t, w1, w2, kTop, kLow, Y, COUT) {
  for (const [k, n0, i0, m] of runs) {
    const s = st[k], A = src(s), at = (i0 * s.w + t) * CIN;
    kernels.igemm(A, at, s.w * CIN, w1, Y, n0 * COUT, COUT, m, kTop, COUT);
    kernels.igemm(A, at + s.ws * CIN, s.w * CIN, w2, Y, n0 * COUT, COUT, m, kLow, COUT, ACC);
  }
}

// Decode every tile of one level into `map` (H x W, Int32Array), in lockstep over the
// wavefronts. tiles: [{rect: [r0, r1, c0, c1], stream, top}] (top: the top tile's indices, for
// the bottom level's conditioning). Per tile, the embeddings, each masked layer's inputs G(x)
// and the conditioning features are kept (int16) in the kernels' heap; the state x of the
// wavefront's positions (int32) in rows of C.
function decodeLevel(p, map, W, tiles, onStep) {
  const { K, E, C, L } = p, CL = C * (L + 1), cp = p.cond;
  const dims = tiles.map((t) => [t.rect[1] - t.rect[0], t.rect[3] - t.rect[2]]);
  const most = dims.reduce((n, [h, w]) => n + Math.min(h, Math.ceil(w / 2)), 0) + 2;
  const th = Math.max(...dims.map(([h]) => h / 2)), tw = Math.max(...dims.map(([, w]) => w / 2)), tn = (th + 3) * (tw + 2);
  let bytes = heapBytes(most * C, 2) + heapBytes(most * Math.max(C, K), 4) + 3 * heapBytes(most * C, 4) + heapBytes(K + 1, 4) + heapBytes(32 * tiles.length, 1);
  for (const [h, w] of dims) bytes += heapBytes((h + 3) * (w + 2) * E, 2) + L * heapBytes((h + 3) * (w + 2) * C, 2) + (cp ? heapBytes(h * w * cp.CC, 2) : 0);
  for (const t of tiles) bytes += heapBytes(t.stream.length + 3, 1);
  if (cp) bytes += heapBytes(most * CL, 4) + heapBytes(tn * cp.E, 2) + 2 * heapBytes(tn * cp.CC, 2) + heapBytes(4 * th * tw * cp.CC, 4);
  for (const l of p.layers) {   // its matrices: kernel rows, phases, the masked layers' two parts or one
    for (const m of l.rows || l.phases || (l.w1 ? [l.w1, l.w2] : [l.w])) kernels.prepare(m, m.length / l.b.length, l.b.length);
    kernels.table(l.b);
    kernels.table(l.mul);
  }
  for (const lut of p.luts) kernels.table(lut, Int8Array);
  kernels.table(p.head2.sh); kernels.table(p.exp, Float64Array);
  const release = kernels.frame(bytes);
  try {
    const X = kernels.heap(Int16Array, most * C), Y = kernels.heap(Int32Array, most * Math.max(C, K)), x = kernels.heap(Int32Array, most * C);
    const cum = kernels.heap(Int32Array, K + 1), ps = kernels.heap(Int32Array, most), syms = kernels.heap(Int32Array, most);
    const states = kernels.decoders(tiles.map((t) => t.stream));   // the tiles' range decoders
    const Yc = cp ? kernels.heap(Int32Array, most * CL) : null;
    const ws = cp && { x0: kernels.heap(Int16Array, tn * cp.E), x1: kernels.heap(Int16Array, tn * cp.CC), x2: kernels.heap(Int16Array, tn * cp.CC), acc: kernels.heap(Int32Array, 4 * th * tw * cp.CC) };
    const st = tiles.map((t, k) => {
      const [h, w] = dims[k], ws = w + 2, n = (h + 3) * ws;
      const emb = kernels.heap(Int16Array, n * E), A = [];
      for (let l = 0; l < L; l++) A.push(kernels.heap(Int16Array, n * C));
      return { rect: t.rect, h, w, ws, emb, A, x3: cp ? kernels.heap(Int16Array, h * w * cp.CC) : null };
    });
    if (cp) st.forEach((s, k) => conditioning(cp, tiles[k].top, s.h / 2, s.w / 2, s.x3, ws));
    const steps = Math.max(...st.map((s) => s.w + 2 * (s.h - 1)));
    const pi = new Int32Array(most), pj = new Int32Array(most);
    const embOf = (s) => s.emb;
    // x (rows n0.. of a run) = clamp16(d + add) and, through lut, G(x) into `into`: the stored
    // input of the next masked layer at the run's positions (rows ws - 2 positions apart)
    const stored = (runs, y, layer, add, into, lut) => {
      for (const [k, n0, i0, m] of runs) {
        const s = st[k], at = ((i0 + 1) * s.ws + t - 2 * i0 + 1) * C;
        kernels.rq({ rows: m, cols: C, y: [y, n0 * C, C], layer, add: add && [add[0], n0 * add[2] + add[1], add[2]], d32: [x, n0 * C, C], d16: [into(s), at, (s.ws - 2) * C], lut, ...I16 });
      }
    };
    let t = 0;
    for (; t < steps; t++) {
      let N = 0;
      const runs = [];    // [tile, first row in the wavefront, first i, count]
      st.forEach((s, k) => {
        const i0 = Math.max(0, Math.ceil((t - s.w + 1) / 2)), i1 = Math.min(s.h, Math.floor(t / 2) + 1);
        if (i1 <= i0) return;
        runs.push([k, N, i0, i1 - i0]);
        for (let i = i0; i < i1; i++) { ps[N] = k; pi[N] = i; pj[N] = t - 2 * i; N++; }
      });
      if (!N) continue;
      if (cp) {     // the conditioning's last 1x1 convolution at the positions, (N, CL)
        for (const [k, n0, i0, m] of runs) {
          const s = st[k];
          kernels.igemm(s.x3, (t + i0 * (s.w - 2)) * cp.CC, (s.w - 2) * cp.CC, cp.out.w, Yc, n0 * CL, CL, m, cp.CC, CL);
        }
        kernels.rq({ rows: N, cols: CL, y: [Yc, 0, CL], d32: [Yc, 0, CL], layer: cp.out, lo: -65536, hi: 65536 });
      }
      masked(st, runs, embOf, E, t, p.first.w1, p.first.w2, 3 * E, E, Y, C);
      stored(runs, Y, p.first, cp && [Yc, 0, CL], (s) => s.A[0], p.lutConv[0]);
      for (let l = 0; l < L; l++) {
        masked(st, runs, (s) => s.A[l], C, t, p.conv[l].w1, p.conv[l].w2, 3 * C, 2 * C, Y, C);
        kernels.rq({ rows: N, cols: C, y: [Y, 0, C], layer: p.conv[l], add: cp && [Yc, (l + 1) * C, CL], d16: [X, 0, C], lut: p.lutMix[l], ...I16 });
        kernels.igemm(X, 0, C, p.mix[l].w, Y, 0, C, N, C, C);
        if (l < L - 1) stored(runs, Y, p.mix[l], [x, 0, C], (s) => s.A[l + 1], p.lutConv[l + 1]);
        else kernels.rq({ rows: N, cols: C, y: [Y, 0, C], layer: p.mix[l], add: [x, 0, C], d32: [x, 0, C], d16: [X, 0, C], lut: p.lutHead1, ...I16 });
      }
      kernels.igemm(X, 0, C, p.head1.w, Y, 0, C, N, C, C);
      kernels.rq({ rows: N, cols: C, y: [Y, 0, C], layer: p.head1, d16: [X, 0, C], lut: p.lutHead2, ...I16 });
      kernels.igemm(X, 0, C, p.head2.w, Y, 0, K, N, C, K);
      if (kernels.symbols(Y, N, K, p.head2, p.exp, cum, states, ps, syms)) throw new VqzError('damaged stream (range decoder: invalid data)');
      for (let n = 0; n < N; n++) {
        const s = st[ps[n]], i = pi[n], j = pj[n], sym = syms[n];
        map[(s.rect[0] + i) * W + s.rect[2] + j] = sym;
        s.emb.set(p.embed.subarray(sym * E, (sym + 1) * E), ((i + 1) * s.ws + j + 1) * E);
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
      return { rect: rects[n][1], stream: h.streams[n][1], top };
    }), step);
  }
  return { maps, sizes };
}
