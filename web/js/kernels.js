// The hot loops, on arrays read in place (an array and the element offset of its first row;
// rows `ld` elements apart). gemm: C (M x N) = A (M x K) @ B (K x N), B row-major: float32 (the
// synthesis network, the restoration network) with an optional bias row, accumulating into C
// (ACC) or stored through a ReLU (RELU); igemm: exact integers, Int32 C from int16 A and B
// (the integer prior: every sum below 2^31). rq, symbols: the prior's requantization and
// distributions (FORMAT.md 4); stripe: the refinement's coefficients (6.3); filter, plane,
// addRound: the restoration filter (8); film, relu, taps, wino: pieces of the networks.
// gemm.wat (WebAssembly SIMD) replaces the plain JavaScript loops where the browser has it
// (wino, symbols and stripe only there: their callers fall back to other code); there the
// arrays are from heap() and the constants (weights, biases, tables) are prepared before a
// frame.

import { GEMM_WASM, GEMM_WASM_RELAXED } from './gemm.wasm.js';

export const ACC = 1, RELU = 2;    // gemm flags
const ROWS = 128;    // rows of A per call of the module: each block stays in cache over B's panels

function gemmJs(A, aOff, lda, B, C, cOff, ldc, M, K, N, flags = 0, bias = null) {
  for (let i = 0; i < M; i++) {
    const ci = cOff + i * ldc, ai = aOff + i * lda;
    if (!(flags & ACC)) C.fill(0, ci, ci + N);
    if (bias) for (let j = 0; j < N; j++) C[ci + j] += bias[j];
    for (let k = 0; k < K; k++) {
      const a = A[ai + k], bk = k * N;
      if (a !== 0) for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
    }
    if (flags & RELU) for (let j = ci; j < ci + N; j++) if (C[j] < 0) C[j] = 0;
  }
}
const reluJs = (src, dst) => { for (let i = 0; i < src.length; i++) dst[i] = src[i] < 0 ? 0 : src[i]; };

// v = clamp(requant(y) + add, lo, hi) into d32 and/or (through lut) d16; o: {rows, cols, y, add,
// d32, d16: [array, offset, ld] or absent, layer: {b, sh, and for the module where every shift
// is in 0..30: S, the largest, and mul = 2^(S - sh)}, lut, lo, hi}
function rqJs({ rows, cols, y: [Y, yo, ly], add, d32, d16, layer, lut, lo, hi }) {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let v = Y[yo + r * ly + c];
      if (layer) { const k = layer.sh[c], u = v + layer.b[c]; v = k >= 0 ? u >> k : u * 2 ** -k; }
      if (add) v += add[0][add[1] + r * add[2] + c];
      v = v < lo ? lo : v > hi ? hi : v;
      if (d32) d32[0][d32[1] + r * d32[2] + c] = v;
      if (d16) d16[0][d16[1] + r * d16[2] + c] = lut ? lut[(v >> 4) + 2048] : v;
    }
  }
}

// The restoration filter's pass over one colour plane P (float32, a border of 2: rows width + 4;
// FORMAT.md 8): per pixel, the 13 weights of its class (cls) in wf, the 12 taps at offsets (in
// floats) offs; delta (3 floats a pixel) += d [d0, d1, d2]. f32 arithmetic throughout.
function filterJs(P, cls, wf, offs, delta, width, height, [d0, d1, d2]) {
  const f32 = Math.fround, wp = width + 4;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const o = 13 * cls[y * width + x], at = (y + 2) * wp + x + 2, centre2 = f32(2 * P[at]);
    let d = wf[o + 12];
    for (let t = 0; t < 12; t++) d = f32(d + f32(wf[o + t] * f32(f32(P[at + offs[t]] + P[at - offs[t]]) - centre2)));
    const q = 3 * (y * width + x);
    delta[q] = f32(delta[q] + f32(d * d0));
    delta[q + 1] = f32(delta[q + 1] + f32(d * d1));
    delta[q + 2] = f32(delta[q + 2] + f32(d * d2));
  }
}

// FiLM of n pixels of c floats at a[at]: v = relu(v st[k] + st[c + k]) in float32
function filmJs(a, at, n, c, st) {
  for (let p = at; p < at + n * c; p += c) for (let k = 0; k < c; k++) {
    const v = Math.fround(Math.fround(a[p + k] * st[k]) + st[c + k]);
    a[p + k] = v > 0 ? v : 0;
  }
}

const roundEven = (v) => { const r = Math.round(v); return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; };
// rgb (bytes) = clamp(roundEven(float32(rgb + delta)), 0, 255)
function addRoundJs(rgb, delta) {
  for (let i = 0; i < rgb.length; i++) { const v = roundEven(Math.fround(rgb[i] + delta[i])); rgb[i] = v < 0 ? 0 : v > 255 ? 255 : v; }
}

// The filter's colour plane P (float32, rows width + 4) = rgb k with a border of 2 edge pixels
function planeJs(rgb, P, width, height, [k0, k1, k2]) {
  const f32 = Math.fround, wp = width + 4;
  for (let y = 0; y < height; y++) {
    const row = (y + 2) * wp + 2;
    for (let x = 0, p = 3 * y * width; x < width; x++, p += 3) P[row + x] = f32(f32(f32(rgb[p] * k0) + f32(rgb[p + 1] * k1)) + f32(rgb[p + 2] * k2));
    P[row - 2] = P[row - 1] = P[row];
    P[row + width] = P[row + width + 1] = P[row + width - 1];
  }
  for (const [to, from] of [[0, 2], [1, 2], [height + 2, height + 1], [height + 3, height + 1]]) P.copyWithin(to * wp, from * wp, (from + 1) * wp);
}

// x (zero-bordered: rows of w + 2 pixels of c floats, pixel (0, 0) at x[at]) += T[tap][code at
// the tap] over the 3x3 taps; codes: (h + 2) rows of w + 2, the border code K (a zero row of T)
function tapsJs(x, at, codes, T, h, w, c, K) {
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    const o = at + (i * (w + 2) + j) * c;
    for (let k = 0; k < 9; k++) {
      const s = (k * (K + 1) + codes[(i + ((k / 3) | 0)) * (w + 2) + j + (k % 3)]) * c;
      for (let e = 0; e < c; e++) x[o + e] += T[s + e];
    }
  }
}

const js = {
  name: 'js', gemm: gemmJs, igemm: gemmJs, rq: rqJs, relu: reluJs, filter: filterJs, plane: planeJs, addRound: addRoundJs,
  film: filmJs, taps: tapsJs, wino: null, symbols: () => false, stripe: () => false,
  prepare() {}, table() {}, frame() { return () => {}; }, heap: (Type, n) => new Type(n),   // zeroed
};

// the heap bytes of kernels.wino on rows of w pixels, ci -> co channels (within the caller's frame)
export const winoBytes = (w, ci, co) => 144 * Math.max(1, Math.floor(256 / Math.ceil(w / 2))) * Math.ceil(w / 2) * (ci + co) + 2048;
const MEMBERS = new Int32Array(1024 * 32);   // the module's cache of refine.js member tables (zero: not yet)

function wasmKernels(relaxed) {
  const bytes = Uint8Array.from(atob(relaxed ? GEMM_WASM_RELAXED : GEMM_WASM), (ch) => ch.charCodeAt(0));
  if (!WebAssembly.validate(bytes)) return null;
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const mem = exports.mem;
  let top = 1024, inFrame = false;       // bump allocator over the module's memory
  const reserve = (end) => {
    const need = Math.ceil(end / 65536) - mem.buffer.byteLength / 65536;
    if (need > 0) mem.grow(need);        // detaches earlier views: see frame()
  };
  const packed = new WeakMap();          // constant array -> the byte offset of its copy
  // a constant array's copy in the module (`fill` writes it into a view of n elements of Type)
  function constant(src, Type, n, fill) {
    let at = packed.get(src);
    if (at === undefined) {
      if (inFrame) throw new Error('kernels: constants must be prepared before a frame');
      at = top;
      top += Math.ceil((n * Type.BYTES_PER_ELEMENT) / 64) * 64 + 64;
      reserve(top);
      fill(new Type(mem.buffer, at, n));
      packed.set(src, at);
    }
    return at;
  }
  const pad16 = (n) => Math.ceil(n / 16) * 16;
  // B in panels of 16 columns, each (K, 16) row-major; int16: (K/2, 16, 2), pairs of rows
  const packF32 = (B, K, N) => constant(B, Float32Array, K * pad16(N), (w) => {
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) w[(j >> 4) * K * 16 + k * 16 + (j & 15)] = B[k * N + j];
  });
  const packI16 = (B, K, N) => constant(B, Int16Array, K * pad16(N), (w) => {
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) w[(j >> 4) * K * 16 + (k >> 1) * 32 + (j & 15) * 2 + (k & 1)] = B[k * N + j];
  });
  const table = (t, Type = Int32Array) => constant(t, Type, t.length, (w) => w.set(t));
  const here = (arr) => arr.buffer === mem.buffer;
  function gemm(A, aOff, lda, B, C, cOff, ldc, M, K, N, flags = 0, bias = null) {
    if (N % 16 || !here(A) || !here(C)) return gemmJs(A, aOff, lda, B, C, cOff, ldc, M, K, N, flags, bias);
    const b = packF32(B, K, N), bi = bias ? table(bias, Float32Array) : 0, a = A.byteOffset + 4 * aOff, c = C.byteOffset + 4 * cOff;
    for (let i = 0; i < M; i += ROWS) exports.gemm_f32(a + 4 * i * lda, lda, b, c + 4 * i * ldc, ldc, Math.min(ROWS, M - i), K, N, bi, flags);
  }
  // A frame of `bytes` for heap() arrays, released by the function returned; the memory grows
  // only here, so the frame's views stay valid (a frame within a frame must fit the outer one).
  let depth = 0;
  function frame(bytes) {
    const mark = top;
    if (depth && top + bytes > mem.buffer.byteLength) throw new Error('kernels: frame too small');
    reserve(top + bytes + 4096);
    inFrame = ++depth > 0;
    return () => { top = mark; inFrame = --depth > 0; };
  }
  function heap(Type, n) {
    const off = top;
    top += Math.ceil((n * Type.BYTES_PER_ELEMENT) / 64) * 64 + 64;
    if (top > mem.buffer.byteLength) throw new Error('kernels: frame too small');
    return new Type(mem.buffer, off, n).fill(0);
  }
  const at = (v) => (v ? v[0].byteOffset + v[1] * v[0].BYTES_PER_ELEMENT : 0);

  return {
    name: relaxed ? 'wasm-simd-fma' : 'wasm-simd',
    gemm,
    // Winograd convolutions of synthesis.js, in bands of tile rows: layer.wino, 16 matrices U (a
    // 3x3 convolution, F(2x2, 3x3)) or 36 (the 4 phases of an upsampling layer, F(2x2, 2x2));
    // x, y: zero-bordered activations (synthesis.js padded), y.c = layer.co; flags: RELU
    wino(x, layer, y, flags) {
      const { h, w } = x, ci = x.c, co = layer.co, TW = Math.ceil(w / 2), TH = Math.ceil(h / 2), rows = Math.max(1, Math.floor(256 / TW));
      const K = layer.wino.length, [into, out] = K === 16 ? [exports.wino_in, exports.wino_out] : [exports.wino2_in, exports.wino2_out];
      const release = frame(winoBytes(w, ci, co));
      try {
        const V = heap(Float32Array, K * rows * TW * ci), M = heap(Float32Array, K * rows * TW * co), tmp = heap(Float32Array, 128);
        for (let ty = 0; ty < TH; ty += rows) {
          const n = Math.min(rows, TH - ty) * TW;
          into(x.a.byteOffset, w + 2, ci, ty, TW, n, V.byteOffset, tmp.byteOffset);
          for (let k = 0; k < K; k++) gemm(V, k * n * ci, ci, layer.wino[k], M, k * n * co, co, n, ci, co);
          out(M.byteOffset, co, ty, TW, n, y.a.byteOffset, y.w + 2, y.h, y.w, table(layer.b, Float32Array), flags, tmp.byteOffset);
        }
      } finally {
        release();
      }
    },
    igemm(A, aOff, lda, B, C, cOff, ldc, M, K, N, flags = 0) {
      if (K & 1 || N % 16 || !here(A) || !here(C)) return gemmJs(A, aOff, lda, B, C, cOff, ldc, M, K, N, flags);
      const b = packI16(B, K, N), a = A.byteOffset + 2 * aOff, c = C.byteOffset + 4 * cOff;
      for (let i = 0; i < M; i += ROWS) exports.gemm_i16(a + 2 * i * lda, lda, b, c + 4 * i * ldc, ldc, Math.min(ROWS, M - i), K, N, flags);
    },
    filter(P, cls, wf, offs, delta, width, height, d) {
      if (![P, cls, wf, offs, delta].every(here)) return filterJs(P, cls, wf, offs, delta, width, height, d);
      exports.filter(P.byteOffset, cls.byteOffset, wf.byteOffset, offs.byteOffset, delta.byteOffset, width, height, ...d);
    },
    plane(rgb, P, width, height, k) {
      if (!here(rgb) || !here(P)) return planeJs(rgb, P, width, height, k);
      exports.plane(rgb.byteOffset, P.byteOffset, width, height, ...k);
    },
    addRound(rgb, delta) {
      if (!here(rgb) || !here(delta)) return addRoundJs(rgb, delta);
      exports.addround(rgb.byteOffset, delta.byteOffset, rgb.length);
    },
    taps(x, at, codes, T, h, w, c, K) {
      if (!here(x) || !here(codes) || c % 4) return tapsJs(x, at, codes, T, h, w, c, K);
      exports.taps(x.byteOffset + 4 * at, codes.byteOffset, table(T, Float32Array), h, w, c, K);
    },
    film(a, at, n, c, st) {
      if (!here(a) || !here(st) || c % 4) return filmJs(a, at, n, c, st);
      exports.film(a.byteOffset + 4 * at, n, c, st.byteOffset);
    },
    // the symbols' cumulative tables of n positions from their K logits' accumulators y (prior.js
    // symbols(), which this replaces where it returns true: layer.mul, exp below 2^30, exp[0] > 0)
    symbols(y, n, K, layer, exp, cum) {
      if (!layer.mul || !here(y) || !here(cum) || !(exp[0] > 0 && exp.every((v) => v < 2 ** 30))) return false;
      exports.symbols(y.byteOffset, n, K, table(layer.b), table(layer.sh), table(exp, Float64Array), cum.byteOffset);
      return true;
    },
    // refine.js decodeStripe: the coefficients, or null for invalid data (consts: see gemm.wat)
    stripe(bytes, channels, bh, bw, consts) {
      const P = channels * bh * bw, n = Math.ceil(bytes.length / 4), c = table(consts), t = table(MEMBERS);
      const release = frame(4 * (n + 64 * P + 10 * P + 1300) + 1024);
      try {
        const src = heap(Uint8Array, 4 * n), out = heap(Int32Array, 64 * P), tmp = heap(Int32Array, 10 * P + 1300);
        src.set(bytes);
        return exports.stripe(src.byteOffset, n, channels, bh, bw, out.byteOffset, tmp.byteOffset, t, c) ? null : out.slice();
      } finally {
        release();
      }
    },
    // dst = relu(src), float32 arrays of the same length (a multiple of 4)
    relu(src, dst) {
      if (!here(src) || !here(dst) || src.length % 4) return reluJs(src, dst);
      exports.relu(src.byteOffset, dst.byteOffset, src.length);
    },
    rq(o) {
      const { layer, lut } = o;
      if (!layer || !layer.mul || o.cols % 4 || ![o.y, o.add, o.d32, o.d16].every((v) => !v || here(v[0]))) return rqJs(o);
      exports.rq(at(o.y), o.y[2], at(o.add), o.add ? o.add[2] : 0, at(o.d32), o.d32 ? o.d32[2] : 0, at(o.d16), o.d16 ? o.d16[2] : 0,
        lut ? table(lut, Int8Array) : 0, o.rows, o.cols, table(layer.b), table(layer.mul), layer.S, o.lo, o.hi);
    },
    // the module's copy of a constant, made ahead (required before frames): a weight matrix
    // (K x N; float32 or int16 pairs), or a table (table(t, Type): Int32Array, Float32Array or
    // Int8Array, the type of the copy)
    prepare(B, K, N, float = false) { if (float) packF32(B, K, N); else if (!(K & 1) && N % 16 === 0) packI16(B, K, N); },
    table,
    frame, heap,
  };
}

// ConvTranspose2d 4x4, stride 2, padding 1 (weight (in, out, 4, 4)) as four 2x2 convolutions,
// one per output phase (py, px): out(2m + py, 2n + px) = sum over a, b in {0, 1} of
// in(m + a + py - 1, n + b + px - 1) W(ky = 3 - 2a - py, kx = 3 - 2b - px); a matrix per
// (py, px, a): rows (b, in), columns out.
export function convTPhases({ data, shape: [ci, co] }, Type) {
  const m = [];
  for (let py = 0; py < 2; py++) for (let px = 0; px < 2; px++) for (let a = 0; a < 2; a++) {
    const w = new Type(2 * ci * co);
    for (let b = 0; b < 2; b++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) w[(b * ci + i) * co + o] = data[((i * co + o) * 4 + 3 - 2 * a - py) * 4 + 3 - 2 * b - px];
    m.push(w);
  }
  return m;
}
// Its products: x zero-bordered (h + 3 rows of w + 2 pixels, ci channels, pixel (0, 0) at
// (w + 3) ci); output pixel (y, x) at out[oOff + (y ldRow + x) cs]; gemm: kernels.gemm or
// kernels.igemm (flags, bias: of kernels.gemm; flags apply to the last pass).
export function convT(gemm, x, h, w, ci, phases, co, out, oOff, ldRow, cs, flags = 0, bias = null) {
  const wp = w + 2;
  for (let m = 0; m < h; m++) for (let py = 0; py < 2; py++) for (let px = 0; px < 2; px++) for (let a = 0; a < 2; a++) {
    gemm(x, ((m + a + py) * wp + px) * ci, ci, phases[(py * 2 + px) * 2 + a], out, oOff + ((2 * m + py) * ldRow + px) * cs, 2 * cs, w, 2 * ci, co, a ? flags | ACC : 0, a ? null : bias);
  }
}

export const kernels = { ...js };

// Select the implementation: 'wasm' (default: fused multiply-add where the browser has relaxed
// SIMD, else plain SIMD), 'wasm-simd' (never fused) or 'js'.
export function useKernels(which = 'wasm') {
  const k = which === 'js' ? null : (which === 'wasm' && wasmKernels(true)) || wasmKernels(false);
  Object.assign(kernels, k || js);
  return kernels.name;
}
