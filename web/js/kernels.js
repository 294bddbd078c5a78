// The hot loops: matrix products, row-major. gemm: float32 C (M x N) = A (M x K) @ B (K x N)
// (the synthesis network); igemm: exact integers, Int32 C = A @ B for integer A and B whose
// values fit int16 (the integer prior: int8 x int8 products, sums below 2^31); igemmAt and
// gemmAt: the same on arrays from heap() read in place, A's rows `lda` apart, optionally
// accumulating.
// gemm.wat (WebAssembly SIMD) replaces the plain JavaScript loops where the browser has it.

import { GEMM_WASM, GEMM_WASM_RELAXED } from './gemm.wasm.js';

function gemmAtJs(A, aOff, lda, B, C, cOff, M, K, N, acc) {
  for (let i = 0; i < M; i++) {
    const ci = cOff + i * N, ai = aOff + i * lda;
    if (!acc) C.fill(0, ci, ci + N);
    for (let k = 0; k < K; k++) {
      const a = A[ai + k];
      if (a === 0) continue;
      const bk = k * N;
      for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
    }
  }
}
const gemmJs = (A, B, C, M, K, N) => gemmAtJs(A, 0, K, B, C, 0, M, K, N, false);

const js = {
  name: 'js', gemm: gemmJs, igemm: gemmJs, igemmAt: gemmAtJs, gemmAt: gemmAtJs,
  prepare() {}, frame() { return () => {}; }, heap: (Type, n) => new Type(n),   // zeroed
};

const CHUNK = 1 << 20;   // elements of A and C per copying call into the module

function wasmKernels(relaxed) {
  const bytes = Uint8Array.from(atob(relaxed ? GEMM_WASM_RELAXED : GEMM_WASM), (ch) => ch.charCodeAt(0));
  if (!WebAssembly.validate(bytes)) return null;
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const mem = exports.mem;
  let top = 1024;                        // bump allocator over the module's memory
  const reserve = (end) => {
    const need = Math.ceil(end / 65536) - mem.buffer.byteLength / 65536;
    if (need > 0) mem.grow(need);        // detaches earlier views: see frame()
  };
  const alloc = (n) => { const off = top; top += Math.ceil(n / 64) * 64 + 64; reserve(top); return off; };
  const packed = new WeakMap();          // weight matrix -> its padded copy in the module
  let scratch = 0, scratchBytes = 0, inFrame = false;
  const pad16 = (n) => Math.ceil(n / 16) * 16;

  function packF32(B, K, N) {
    let b = packed.get(B);
    if (b === undefined) {
      if (inFrame) throw new Error('kernels: weights must be prepared before a frame');
      const Np = pad16(N);
      b = alloc(K * Np * 4);
      const w = new Float32Array(mem.buffer, b, K * Np);
      for (let k = 0; k < K; k++) w.set(B.subarray(k * N, (k + 1) * N), k * Np);
      packed.set(B, b);
    }
    return b;
  }
  // int16 pairs: (B[2k][j], B[2k+1][j]) at element (k Np + j) 2, for i32x4.dot_i16x8_s
  function packI16(B, K, N) {
    let b = packed.get(B);
    if (b === undefined) {
      if (inFrame) throw new Error('kernels: weights must be prepared before a frame');
      const Np = pad16(N);
      b = alloc(K * Np * 2);
      const w = new Int16Array(mem.buffer, b, K * Np);
      for (let k = 0; k < K; k += 2) for (let j = 0; j < N; j++) {
        w[k * Np + 2 * j] = B[k * N + j];
        w[k * Np + 2 * j + 1] = B[(k + 1) * N + j];
      }
      packed.set(B, b);
    }
    return b;
  }

  // copying product: A and C anywhere, copied through a scratch area in row chunks
  function run(fn, A, b, C, M, K, N, AType, CType, elem) {
    const Np = pad16(N);
    const rows = Math.max(2, Math.min(M + (M & 1), 2 * Math.floor(CHUNK / (2 * (K + Np)))));
    const need = rows * (K * elem + Np * 4);
    if (need > scratchBytes) { scratchBytes = need; scratch = alloc(need); }
    for (let i0 = 0; i0 < M; i0 += rows) {
      const m = Math.min(rows, M - i0), mp = m + (m & 1), c = scratch + mp * K * elem;
      const a = new AType(mem.buffer, scratch, mp * K);
      a.set(A.subarray(i0 * K, (i0 + m) * K));
      if (mp > m) a.fill(0, m * K);
      fn(scratch, K, b, c, mp, K, Np, 0);
      const out = new CType(mem.buffer, c, m * Np);
      if (Np === N) C.set(out, i0 * N);
      else for (let i = 0; i < m; i++) C.set(out.subarray(i * Np, i * Np + N), (i0 + i) * N);
    }
  }

  return {
    name: relaxed ? 'wasm-simd-fma' : 'wasm-simd',
    gemm: (A, B, C, M, K, N) => run(exports.gemm_f32, A, packF32(B, K, N), C, M, K, N, Float32Array, Float32Array, 4),
    igemm(A, B, C, M, K, N) {
      if (K & 1) return gemmJs(A, B, C, M, K, N);
      run(exports.gemm_i16, A, packI16(B, K, N), C, M, K, N, Int16Array, Int32Array, 2);
    },
    // pack a weight matrix ahead (required before frames): int16 pairs, or float32
    prepare(B, K, N, float = false) { if (float) packF32(B, K, N); else if (!(K & 1) && N % 16 === 0) packI16(B, K, N); },
    // A frame of `bytes` for heap() arrays, released by the function returned; the memory
    // grows only here, so the frame's views stay valid.
    frame(bytes) {
      const mark = top;
      reserve(top + bytes + 4096);
      inFrame = true;
      return () => { top = mark; inFrame = false; };
    },
    heap(Type, n) {
      const off = top;
      top += Math.ceil((n * Type.BYTES_PER_ELEMENT) / 64) * 64 + 64;
      if (top > mem.buffer.byteLength) throw new Error('kernels: frame too small');
      return new Type(mem.buffer, off, n).fill(0);
    },
    // in place: A an Int16Array and C an Int32Array from heap(); M odd computes one more row
    // (A must have a readable row and C a writable row after the last)
    igemmAt(A, aOff, lda, B, C, cOff, M, K, N, acc) {
      if (K & 1 || N % 16 || A.buffer !== mem.buffer) return gemmAtJs(A, aOff, lda, B, C, cOff, M, K, N, acc);
      exports.gemm_i16(A.byteOffset + 2 * aOff, lda, packI16(B, K, N), C.byteOffset + 4 * cOff, M + (M & 1), K, N, acc ? 1 : 0);
    },
    // the same in float32: A and C Float32Arrays from heap()
    gemmAt(A, aOff, lda, B, C, cOff, M, K, N, acc) {
      if (N % 16 || A.buffer !== mem.buffer) return gemmAtJs(A, aOff, lda, B, C, cOff, M, K, N, acc);
      exports.gemm_f32(A.byteOffset + 4 * aOff, lda, packF32(B, K, N), C.byteOffset + 4 * cOff, M + (M & 1), K, N, acc ? 1 : 0);
    },
  };
}

export const kernels = { ...js };

// Select the implementation: 'wasm' (default: fused multiply-add where the browser has relaxed
// SIMD, else plain SIMD), 'wasm-simd' (never fused) or 'js'.
export function useKernels(which = 'wasm') {
  const k = which === 'js' ? null : (which === 'wasm' && wasmKernels(true)) || wasmKernels(false);
  Object.assign(kernels, k || js);
  return kernels.name;
}
