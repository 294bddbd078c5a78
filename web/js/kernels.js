// The hot loops (gemm.ts, WebAssembly SIMD: the documentation of each) on arrays in the
// module's memory (from heap(), inside a frame()) read in place: an array and the element
// offset of its first row, rows `ld` elements apart. gemm: C (M x N) = A (M x K) @ B (K x N), B
// row-major: float32 (the synthesis network, the restoration network) with an optional bias
// row, accumulating into C (ACC) or stored through a ReLU (RELU); igemm: exact integers, Int32 C
// from int16 A and B (the integer prior: every sum below 2^31). The constants (weights,
// biases, tables) are copied into the module before a frame.

import { GEMM_WASM, GEMM_WASM_RELAXED } from './gemm.wasm.js';

export const ACC = 1, RELU = 2, RELU_IN = 4;    // flags of gemm (ACC, RELU) and wino (RELU, RELU_IN)
const ROWS = 128;    // rows of A per call of the module: each block stays in cache over B's panels

// the bytes of an array of n elements of `bytes` each in the module's memory (64-byte aligned,
// a 64-byte gap between arrays)
export const heapBytes = (n, bytes) => Math.ceil((n * bytes) / 64) * 64 + 64;

// the heap bytes of kernels.wino on rows of w pixels, ci -> co channels (within the caller's frame)
export const winoBytes = (w, ci, co) => 144 * Math.max(1, Math.floor(256 / Math.ceil(w / 2))) * Math.ceil(w / 2) * (ci + co) + 2048;

function wasmKernels(exports, name) {
  const mem = exports.memory;
  let top = Math.ceil(exports.HEAP_BASE.value / 64) * 64, depth = 0;   // bump allocator over the module's memory; frames nest
  const reserve = (end) => {
    const need = Math.ceil(end / 65536) - mem.buffer.byteLength / 65536;
    if (need > 0) mem.grow(need);        // detaches earlier views: see frame()
  };
  const packed = new WeakMap();          // constant array -> the byte offset of its copy
  // a constant array's copy in the module (`fill` writes it into a view of n elements of Type)
  function constant(src, Type, n, fill) {
    let at = packed.get(src);
    if (at === undefined) {
      if (depth) throw new Error('kernels: constants must be prepared before a frame');
      at = top;
      top += heapBytes(n, Type.BYTES_PER_ELEMENT);
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
  // A frame of `bytes` for heap() arrays, released by the function returned; the memory grows
  // only here, so the frame's views stay valid (a frame within a frame must fit the outer one).
  function frame(bytes) {
    const mark = top;
    if (depth && top + bytes > mem.buffer.byteLength) throw new Error('kernels: frame too small');
    reserve(top + bytes + 4096);
    depth++;
    return () => { top = mark; depth--; };
  }
  function heap(Type, n) {
    const off = top;
    top += heapBytes(n, Type.BYTES_PER_ELEMENT);
    if (top > mem.buffer.byteLength) throw new Error('kernels: frame too small');
    return new Type(mem.buffer, off, n).fill(0);
  }
  const at = (v) => (v ? v[0].byteOffset + v[1] * v[0].BYTES_PER_ELEMENT : 0);
  // N a multiple of 16 (synthesis.js pads the layers' outputs)
  function gemm(A, aOff, lda, B, C, cOff, ldc, M, K, N, flags = 0, bias = null) {
    const b = packF32(B, K, N), bi = bias ? table(bias, Float32Array) : 0, a = A.byteOffset + 4 * aOff, c = C.byteOffset + 4 * cOff;
    for (let i = 0; i < M; i += ROWS) exports.gemm_f32(a + 4 * i * lda, lda, b, c + 4 * i * ldc, ldc, Math.min(ROWS, M - i), K, N, bi, flags);
  }

  // a copy of a byte stream in the frame, zero-padded to 4-byte words
  function words(bytes) {
    const a = heap(Uint8Array, 4 * Math.ceil(bytes.length / 4));
    a.set(bytes);
    return a;
  }
  // gemm.ts's function `name` on heap arrays (their addresses) and numbers
  const direct = (name) => (...args) => exports[name](...args.map((v) => (ArrayBuffer.isView(v) ? v.byteOffset : v)));

  return {
    name,
    gemm,
    // K even, N a multiple of 16 (prior.js checks the model)
    igemm(A, aOff, lda, B, C, cOff, ldc, M, K, N, flags = 0) {
      const b = packI16(B, K, N), a = A.byteOffset + 2 * aOff, c = C.byteOffset + 4 * cOff;
      for (let i = 0; i < M; i += ROWS) exports.gemm_i16(a + 2 * i * lda, lda, b, c + 4 * i * ldc, ldc, Math.min(ROWS, M - i), K, N, flags);
    },
    // Winograd convolutions of synthesis.js, in bands of tile rows: layer.wino, 16 matrices U (a
    // 3x3 convolution, F(2x2, 3x3)) or 36 (the 4 phases of an upsampling layer, F(2x2, 2x2));
    // x, y: zero-bordered activations (synthesis.js padded), y.c = layer.co; flags: RELU (of
    // the output), RELU_IN (of the input)
    wino(x, layer, y, flags) {
      const { h, w } = x, ci = x.c, co = layer.co, TW = Math.ceil(w / 2), TH = Math.ceil(h / 2), rows = Math.max(1, Math.floor(256 / TW));
      const K = layer.wino.length;
      const release = frame(winoBytes(w, ci, co));
      try {
        const V = heap(Float32Array, K * rows * TW * ci), M = heap(Float32Array, K * rows * TW * co), tmp = heap(Float32Array, 128);
        for (let ty = 0; ty < TH; ty += rows) {
          const n = Math.min(rows, TH - ty) * TW;
          exports.wino_in(x.a.byteOffset, w + 2, ci, ty, TW, n, V.byteOffset, tmp.byteOffset, flags, K === 36);
          for (let k = 0; k < K; k++) gemm(V, k * n * ci, ci, layer.wino[k], M, k * n * co, co, n, ci, co);
          exports.wino_out(M.byteOffset, co, ty, TW, n, y.a.byteOffset, y.w + 2, y.h, y.w, table(layer.b, Float32Array), flags, tmp.byteOffset, K === 36);
        }
      } finally {
        release();
      }
    },
    // v = clamp(requant(y) + add, lo, hi) into d32 and/or (through lut) d16; o: {rows, cols (a
    // multiple of 4), y, add, d32, d16: [array, offset, ld] or absent, layer: {b, S, mul} (prior.js
    // levelTensors), lut, lo, hi}
    rq(o) {
      const { layer, lut } = o;
      exports.rq(at(o.y), o.y[2], at(o.add), o.add ? o.add[2] : 0, at(o.d32), o.d32 ? o.d32[2] : 0, at(o.d16), o.d16 ? o.d16[2] : 0,
        lut ? table(lut, Int8Array) : 0, o.rows, o.cols, table(layer.b), table(layer.mul), layer.S, o.lo, o.hi);
    },
    // the code maps' symbols at n positions into out (gemm.ts symbols, the decoders' states
    // from decoders()); true where the data is invalid
    symbols(y, n, K, layer, exp, cum, states, tiles, out) {
      return !!exports.symbols(y.byteOffset, n, K, table(layer.b), table(layer.sh), table(exp, Float64Array), cum.byteOffset, states.byteOffset, tiles.byteOffset, out.byteOffset);
    },
    // range decoders (FORMAT.md 5.3) of byte streams, in the frame: their states
    decoders(streams) {
      const states = heap(Uint8Array, 32 * streams.length);
      streams.forEach((bytes, k) => { const src = words(bytes); exports.open(states.byteOffset + 32 * k, src.byteOffset, src.length / 4); });
      return states;
    },
    // use(dec) on a range decoder of `bytes`: dec.uniform(n) (a symbol of n), dec.golomb(n) (an
    // Exp-Golomb batch, Int32Array), dec.status() (gemm.ts status); its result
    decoding(bytes, use) {
      const release = frame(bytes.length + 16384);
      try {
        const src = words(bytes), kk = heap(Int32Array, 1024), u = heap(Int32Array, 1024);
        exports.stream(src.byteOffset, src.length / 4);
        const golomb = (n) => { exports.golomb(n, kk.byteOffset, u.byteOffset); return u.slice(0, n).map((v) => v - 1); };
        return use({ uniform: exports.uniform, golomb, status: exports.status });
      } finally {
        release();
      }
    },
    // the coefficients of a refinement stripe (gemm.ts stripe), or null for invalid data
    stripe(bytes, channels, bh, bw) {
      const P = channels * bh * bw, release = frame(bytes.length + 4 * (74 * P + 1300) + 1024);
      try {
        const src = words(bytes), out = heap(Int32Array, 64 * P), tmp = heap(Int32Array, 10 * P + 1300);
        return exports.stripe(src.byteOffset, src.length / 4, channels, bh, bw, out.byteOffset, tmp.byteOffset) ? null : out.slice();
      } finally {
        release();
      }
    },
    // x (zero-bordered: rows of w + 2 pixels of c floats, pixel (0, 0) at x[at]) += T[tap][code
    // at the tap] (gemm.ts taps)
    taps(x, at, codes, T, h, w, c, K) {
      exports.taps(x.byteOffset + 4 * at, codes.byteOffset, table(T, Float32Array), h, w, c, K);
    },
    filter: direct('filter'), plane: direct('plane'), addRound: direct('addround'), film: direct('film'),
    // the module's copy of a constant, made ahead (required before frames): a weight matrix
    // (K x N; float32 or int16 pairs), or a table (table(t, Type): Int32Array, Float32Array,
    // Float64Array or Int8Array, the type of the copy); its address
    prepare(B, K, N, float = false) { if (float) packF32(B, K, N); else packI16(B, K, N); },
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

export const kernels = {};

// The module with fused multiply-add where the browser validates relaxed SIMD (f32x4.relaxed_madd,
// Chrome 114+), else plain SIMD: `ready` resolves to its name once `kernels` has it, or to null
// without WebAssembly SIMD.
export const ready = (async () => {
  for (const [b64, name] of [[GEMM_WASM_RELAXED, 'wasm-simd-fma'], [GEMM_WASM, 'wasm-simd']]) {
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    if (globalThis.WebAssembly?.validate(bytes)) return Object.assign(kernels, wasmKernels((await WebAssembly.instantiate(bytes)).instance.exports, name)).name;
  }
  return null;
})();
