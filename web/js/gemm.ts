// The hot loops of kernels.js in WebAssembly SIMD, written in AssemblyScript (TypeScript's
// syntax, WebAssembly's types: i32, u64, f32, v128; load<T>(address) and store<T>(address,
// value) read and write the module's memory). Built into gemm.wasm.js by build_wasm.mjs.
// Addresses are in bytes; arrays are row-major; lda, ldc and the like: the distance between
// rows in elements. In order: the matrix products (float32, int16); the range decoder; the
// integer prior's requantization and symbols; the restoration filter; FiLM and table sums of
// the networks; the refinement's stripe decoder; the Winograd transforms of the convolutions.
// The hot loops, which run at least once, are written do ... while: V8 compiles them tighter
// than a for loop, which tests at the top (measured on the symbols' loops: a third faster).

const ACC = 1, RELU = 2, RELU_IN = 4;   // flags (kernels.js)
export const HEAP_BASE = __heap_base;   // the end of this module's data: kernels.js allocates beyond

// ---- Matrix products C (M x N) = A (M x K) @ B (K x N): two rows of A and 16 columns at a
// time (the last row alone where M is odd), N a multiple of 16, B packed by kernels.js in panels
// of 16 columns (each panel's K rows contiguous: no cache-hostile strides for wide matrices).

// p + x b, per lane. int16: i32x4.dot_i16x8_s does 8 products (B's rows in pairs, kernels.js
// packI16). float32: fused into one rounding (f32x4.relaxed_madd) in the build with FUSED = 1.
@inline function madd<T>(p: v128, x: v128, b: v128): v128 {
  if (isInteger<T>()) return i32x4.add(p, i32x4.dot_i16x8_s(x, b));
  if (FUSED) return f32x4.relaxed_madd(x, b, p);
  return f32x4.add(p, f32x4.mul(x, b));
}

// a block's starting value at `offset`: C where flags & ACC, else 0; plus the bias unless 0
@inline function initial(c: usize, bias: usize, offset: usize, flags: i32): v128 {
  const v = flags & ACC ? v128.load(c + offset) : f32x4.splat(0);
  return bias ? f32x4.add(v, v128.load(bias + offset)) : v;
}

// a block's final value: through a ReLU (a pseudo-maximum with 0) where flags & RELU
@inline function final(v: v128, flags: i32): v128 {
  return flags & RELU ? f32x4.pmax(v, f32x4.splat(0)) : v;
}

// T = f32: C = (flags & ACC ? C : 0) + bias (N floats, unless 0) + A @ B, stored through a
// ReLU where flags & RELU. T = i16: Int32 C = (flags & ACC ? C : 0) + A @ B, K even.
@inline function gemm<T>(a: usize, lda: i32, b: usize, c: usize, ldc: i32, M: i32, K: i32, N: i32, bias: usize, flags: i32): void {
  const sa = lda * sizeof<T>(), sc = ldc << 2, steps = (K * sizeof<T>()) >> 2;
  if (M <= 0 || N <= 0 || steps <= 0) return;
  let j = 0;
  do {
    const bj = bias ? bias + (j << 2) : 0;
    let i = 0;
    do {
      // a last single row: the second row repeats it and is not stored
      const sa2 = i + 1 < M ? sa : 0, sc2 = i + 1 < M ? sc : 0, pc = c + i * sc + (j << 2);
      let p0 = initial(pc, bj, 0, flags), p1 = initial(pc, bj, 16, flags), p2 = initial(pc, bj, 32, flags), p3 = initial(pc, bj, 48, flags);
      let q0 = initial(pc + sc2, bj, 0, flags), q1 = initial(pc + sc2, bj, 16, flags), q2 = initial(pc + sc2, bj, 32, flags), q3 = initial(pc + sc2, bj, 48, flags);
      let pa = a + i * sa, pb = b + j * K * sizeof<T>();
      let k = steps;
      do {
        const x = v128.load32_splat(pa), y = v128.load32_splat(pa + sa2);
        const b0 = v128.load(pb), b1 = v128.load(pb, 16), b2 = v128.load(pb, 32), b3 = v128.load(pb, 48);
        p0 = madd<T>(p0, x, b0);
        p1 = madd<T>(p1, x, b1);
        p2 = madd<T>(p2, x, b2);
        p3 = madd<T>(p3, x, b3);
        q0 = madd<T>(q0, y, b0);
        q1 = madd<T>(q1, y, b1);
        q2 = madd<T>(q2, y, b2);
        q3 = madd<T>(q3, y, b3);
        pa += 4;
        pb += 64;
      } while (--k);
      v128.store(pc, final(p0, flags));
      v128.store(pc, final(p1, flags), 16);
      v128.store(pc, final(p2, flags), 32);
      v128.store(pc, final(p3, flags), 48);
      if (sc2) {
        v128.store(pc + sc, final(q0, flags));
        v128.store(pc + sc, final(q1, flags), 16);
        v128.store(pc + sc, final(q2, flags), 32);
        v128.store(pc + sc, final(q3, flags), 48);
      }
    } while ((i += 2) < M);
  } while ((j += 16) < N);
}

export function gemm_f32(a: usize, lda: i32, b: usize, c: usize, ldc: i32, M: i32, K: i32, N: i32, bias: usize, flags: i32): void {
  gemm<f32>(a, lda, b, c, ldc, M, K, N, bias, flags);
}

export function gemm_i16(a: usize, lda: i32, b: usize, c: usize, ldc: i32, M: i32, K: i32, N: i32, flags: i32): void {
  gemm<i16>(a, lda, b, c, ldc, M, K, N, 0, flags & ACC);
}

// ---- The range decoder (FORMAT.md 5.3) of the code maps, the filter and the refinement: d =
// point - lower and range in 64 bits, the stream's 32-bit words (little-endian) from `next`
// to `end`, zero beyond; `bad` set by invalid data. The decoder in use lives in these globals;
// the code maps' tiles keep theirs in memory meanwhile (save, restore: 32 bytes).
let d: u64 = 0, range: u64 = 0, next: usize = 0, end: usize = 0, bad = false;

function word(): u64 {
  const v: u64 = next < end ? load<u32>(next) : 0;
  next += 4;
  return v;
}

// start decoding the stream of n words at src
export function stream(src: usize, n: i32): void {
  next = src;
  end = src + (n << 2);
  bad = false;
  d = word() << 32;
  d |= word();
  range = u64.MAX_VALUE;
}

function save(s: usize): void {
  store<u64>(s, d);
  store<u64>(s, range, 8);
  store<u32>(s, next, 16);
  store<u32>(s, end, 20);
  store<u32>(s, bad, 24);
}

function restore(s: usize): void {
  d = load<u64>(s);
  range = load<u64>(s, 8);
  next = load<u32>(s, 16);
  end = load<u32>(s, 20);
  bad = load<u32>(s, 24) != 0;
}

// a decoder's state at s: the stream of n words at src
export function open(s: usize, src: usize, n: i32): void {
  stream(src, n);
  save(s);
}

// the next symbol's position q = d / (range >> 24) on the scale 0 .. 2^24
function target(): u32 {
  const q = d / (range >> 24);
  if (q < 16777216) return <u32>q;
  bad = true;
  return 0;
}

// consume the symbol [lo, hi) of the scale
function advance(lo: u32, hi: u32): void {
  const scale = range >> 24;
  d -= scale * lo;
  range = scale * (hi - lo);
  if (range < 0x100000000) {
    range <<= 32;
    d = (d << 32) | word();
  }
}

// a symbol of the cumulative table at cum (K + 1 int32): the last s with cum[s] <= q
function decode(cum: usize, K: u32): u32 {
  const q = target();
  let lo: u32 = 0, hi = K;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (load<u32>(cum + (mid << 2)) <= q) lo = mid;
    else hi = mid;
  }
  advance(load<u32>(cum + (lo << 2)), load<u32>(cum + (lo << 2), 4));
  return lo;
}

// a symbol of n equally likely ones (FORMAT.md 5.1's uniform(n))
export function uniform(n: u32): u32 {
  const f = 16777216 / n, s = min(target() / f, n - 1);
  advance(s * f, s + 1 < n ? (s + 1) * f : 16777216);
  return s;
}

// a table of K frequencies (after a 0) made the coder's cumulative table, in place
function cumulative(t: usize, K: i32): usize {
  for (let i = 4; i <= K << 2; i += 4) store<u32>(t + i, load<u32>(t + i) + load<u32>(t + i - 4));
  return t;
}

// FORMAT.md 5.4's and 6.3's fixed distributions
const PREFIX = cumulative(memory.data<u32>([0, 8388602, 4194302, 2097152, 1048576, 524288, 262145, 131073, 65537, 32769, 16385, 8193, 4097, 4097]), 13);
const DECAY = cumulative(memory.data<u32>([0, 8388601, 4194301, 2097151, 1048576, 524288, 262145, 131073, 65537, 32769, 16385, 8193, 4097, 2049, 1025, 513, 513]), 16);

// An Exp-Golomb batch of n values (5.4), all prefixes, then the suffixes by length: value + 1
// into u (int32), kk: n int32 of scratch
export function golomb(n: i32, kk: usize, u: usize): void {
  for (let i = 0; i < n << 2; i += 4) {
    const k = decode(PREFIX, 13);
    store<i32>(kk + i, k);
    store<i32>(u + i, 1 << k);
  }
  for (let bits = 1; bits <= 12; bits++) {
    for (let i = 0; i < n << 2; i += 4) if (load<i32>(kk + i) == bits) store<i32>(u + i, load<i32>(u + i) + uniform(1 << bits));
  }
}

// the stream's end: 0 where every word was read and the rest is a final state, 1 for invalid
// data, 2 for data left over (FORMAT.md 8.1)
export function status(): i32 {
  return bad ? 1 : next >= end && d < 0x1ffffffff ? 0 : 2;
}

// ---- The integer prior (FORMAT.md 4) ----

// Requantization (4.2) of rows x cols int32 values y (cols a multiple of 4): v = clamp(rq(y) +
// add, lo, hi), rq(y) = (y + bias[c]) >> shift[c] computed as ((y + bias[c]) mul[c]) >> S in
// 64 bits, mul[c] = 2^(S - shift[c]) (exact; rq clamped to +-2^24 before the add, which changes
// no result); add (int32) only where `add` is not 0; v stored (int32) at d32 unless 0, and
// (int16) at d16 unless 0: v, or lut[(v >> 4) + 2048] (int8) where lut is not 0.
export function rq(y: usize, ldy: i32, add: usize, ldadd: i32, d32: usize, ld32: i32, d16: usize, ld16: i32, lut: usize,
  rows: i32, cols: i32, bias: usize, mul: usize, S: i32, lo: i32, hi: i32): void {
  const vlo = i32x4.splat(lo), vhi = i32x4.splat(hi), limit = i32x4.splat(1 << 24), table = i32x4.splat(<i32>lut + 2048);
  if (rows <= 0 || cols <= 0) return;
  do {
    let c = 0;
    do {
      const o = c << 2, m = v128.load(mul + o), u = i32x4.add(v128.load(y + o), v128.load(bias + o));
      // the low halves of the four 64-bit products, shifted
      let v = v128.shuffle<i32>(i64x2.shr_u(i64x2.extmul_low_i32x4_s(u, m), S), i64x2.shr_u(i64x2.extmul_high_i32x4_s(u, m), S), 0, 2, 4, 6);
      v = i32x4.min_s(i32x4.max_s(v, i32x4.neg(limit)), limit);
      if (add) v = i32x4.add(v, v128.load(add + o));
      v = i32x4.min_s(i32x4.max_s(v, vlo), vhi);
      if (d32) v128.store(d32 + o, v);
      if (d16 && lut) {
        const t = i32x4.add(i32x4.shr_s(v, 4), table);
        store<i16>(d16 + (c << 1), load<i8>(i32x4.extract_lane(t, 0)));
        store<i16>(d16 + (c << 1), load<i8>(i32x4.extract_lane(t, 1)), 2);
        store<i16>(d16 + (c << 1), load<i8>(i32x4.extract_lane(t, 2)), 4);
        store<i16>(d16 + (c << 1), load<i8>(i32x4.extract_lane(t, 3)), 6);
      } else if (d16) {
        v128.store64_lane(d16 + (c << 1), i16x8.narrow_i32x4_s(v, v), 0);
      }
    } while ((c += 4) < cols);
    y += ldy << 2;
    if (add) add += ldadd << 2;
    if (d32) d32 += ld32 << 2;
    if (d16) d16 += ld16 << 1;
  } while (--rows);
}

// The symbols at n positions (4.5, 5.1): logits (y + bias) >> shift of K int32 values y (rows
// K apart), frequencies from the table exp (float64 integers) summing to 2^23, the coder's
// cumulative table (K + 1 int32 at cum, scratch), and the symbol into out, by the range decoder
// tiles[k] (its state at states + 32 tiles[k]) at position k. Returns 1 for invalid data.
export function symbols(y: usize, n: i32, K: i32, bias: usize, shift: usize, exp: usize, cum: usize, states: usize, tiles: usize, out: usize): i32 {
  const num = <u64>(8388608 - K) << 29, k = <f64>(16777216 - K);
  let tile = -1, failed = false;
  for (let position = 0; position < n; position++) {
    // the logits (into the cum row), the first largest
    let max = i32.MIN_VALUE, arg = 0, s = 0;
    do {
      const o = s << 2, logit = (load<i32>(y + o) + load<i32>(bias + o)) >> load<i32>(shift + o);
      store<i32>(cum + o, logit);
      if (logit > max) {
        max = logit;
        arg = s;
      }
    } while (++s < K);
    // exp[min(max - logit, 1023)], their sum
    let sum: u64 = 0;
    s = 0;
    do {
      const o = cum + (s << 2);
      let e = <i64>max - load<i32>(o);
      if (e > 1023) e = 1023;    // (a branch: faster here than min's select)
      const f = <i64>load<f64>(exp + (<usize>e << 3));
      store<i32>(o, <i32>f);
      sum += f;
    } while (++s < K);
    // scaled by M = floor((2^23 - K) 2^29 / sum): floor(f M / 2^29) + 1, the rest to the largest
    const M = num / sum;
    let total: u64 = 0;
    s = 0;
    do {
      const o = cum + (s << 2), f = ((<u64>load<u32>(o) * M) >> 29) + 1;
      store<i32>(o, <i32>f);
      total += f;
    } while (++s < K);
    store<i32>(cum + (arg << 2), load<i32>(cum + (arg << 2)) + <i32>(8388608 - total));
    // the table: trunc(f32(c (2^24 - K) 2^-23)) + s, c the running sum (FORMAT.md 5.1)
    total = 0;
    s = 0;
    do {
      const o = cum + (s << 2), f = load<u32>(o);
      store<i32>(o, s + <i32><f32>(<f64>total * k * (1.0 / 8388608)));
      total += f;
    } while (++s < K);
    store<i32>(cum + (K << 2), 16777216);
    // the symbol, by its tile's decoder
    const t = load<i32>(tiles + (position << 2));
    if (t != tile) {
      if (tile >= 0) save(states + (tile << 5));
      restore(states + (t << 5));
      tile = t;
    }
    store<i32>(out + (position << 2), decode(cum, K));
    failed = failed || bad;
    y += K << 2;
  }
  if (tile >= 0) save(states + (tile << 5));
  return i32(failed);
}

// ---- The restoration filter (FORMAT.md 8; float32 as filter.js) ----

// One colour plane's pass: P the plane with a border of 2 (rows width + 4 floats), per pixel cls
// (u8) picks 13 weights of wf, offs the 12 taps' offsets (in floats); delta (3 floats a pixel)
// += d (d0, d1, d2).
export function filter(P: usize, cls: usize, wf: usize, offs: usize, delta: usize, width: i32, height: i32, d0: f32, d1: f32, d2: f32): void {
  let at = P + ((2 * (width + 4) + 2) << 2);
  for (let y = 0; y < height; y++) {
    let x = 0;
    do {
      const o = wf + load<u8>(cls) * 52, c2: f32 = 2 * load<f32>(at);
      let d = load<f32>(o, 48), t = 0;
      do {
        const off = load<i32>(offs + t) << 2;
        d += load<f32>(o + t) * (load<f32>(at + off) + load<f32>(at - off) - c2);
      } while ((t += 4) < 48);
      store<f32>(delta, load<f32>(delta) + d * d0);
      store<f32>(delta, load<f32>(delta, 4) + d * d1, 4);
      store<f32>(delta, load<f32>(delta, 8) + d * d2, 8);
      delta += 12;
      cls += 1;
      at += 4;
    } while (++x < width);
    at += 16;
  }
}

// The filter's colour plane: P (rows width + 4 floats) = rgb k (float32: (r k0 + g k1) + b k2)
// inside a border of 2 copies of the edge pixels
export function plane(rgb: usize, P: usize, width: i32, height: i32, k0: f32, k1: f32, k2: f32): void {
  const wp = (width + 4) << 2;
  for (let y = 0; y < height; y++) {
    const row = P + (y + 2) * wp + 8, end = row + (width << 2);
    for (let x = row; x < end; x += 4) {
      store<f32>(x, <f32>load<u8>(rgb) * k0 + <f32>load<u8>(rgb, 1) * k1 + <f32>load<u8>(rgb, 2) * k2);
      rgb += 3;
    }
    store<f32>(row - 8, load<f32>(row));
    store<f32>(row - 4, load<f32>(row));
    store<f32>(end, load<f32>(end - 4));
    store<f32>(end + 4, load<f32>(end - 4));
  }
  memory.copy(P, P + 2 * wp, wp);
  memory.copy(P + wp, P + 2 * wp, wp);
  memory.copy(P + (height + 2) * wp, P + (height + 1) * wp, wp);
  memory.copy(P + (height + 3) * wp, P + (height + 1) * wp, wp);
}

// n bytes at rgb = clamp(round half even(float32(byte + delta)), 0, 255), delta float32
export function addround(rgb: usize, delta: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    store<u8>(rgb + i, <i32>min<f32>(max<f32>(nearest<f32>(<f32>load<u8>(rgb + i) + load<f32>(delta + (i << 2))), 0), 255));
  }
}

// ---- Pieces of the networks ----

// FiLM: n pixels of c floats (c a multiple of 4) at p, v = relu(v st[k] + st[c + k]), each
// operation rounded to float32
export function film(p: usize, n: i32, c: i32, st: usize): void {
  const cb = c << 2;
  for (let i = 0; i < n; i++) {
    let k = 0;
    do {
      const v = f32x4.add(f32x4.mul(v128.load(p + k), v128.load(st + k)), v128.load(st + cb + k));
      v128.store(p + k, f32x4.pmax(v, f32x4.splat(0)));
    } while ((k += 16) < cb);
    p += cb;
  }
}

// A 3x3 convolution of code vectors by tables: x (zero-bordered, rows of w + 2 pixels of c
// floats, c a multiple of 4; pixel (0, 0) at x) += T[tap][the code at the tap], the codes
// (h + 2) rows of w + 2 (the border: code K, a zero row of T), T: 9 taps x (K + 1) codes x c.
export function taps(x: usize, codes: usize, T: usize, h: i32, w: i32, c: i32, K: i32): void {
  const cb = c << 2, tap = (K + 1) * cb, row = (w + 2) << 2;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      // kernel row ky: taps 3 ky + kx, their codes at codes + ky row + 4 kx
      for (let ky = 0; ky < 3; ky++) {
        const r = codes + ky * row, t = T + 3 * ky * tap;
        const s0 = t + load<i32>(r) * cb, s1 = t + tap + load<i32>(r, 4) * cb, s2 = t + 2 * tap + load<i32>(r, 8) * cb;
        let e = 0;
        do {
          v128.store(x + e, f32x4.add(f32x4.add(f32x4.add(v128.load(x + e), v128.load(s0 + e)), v128.load(s1 + e)), v128.load(s2 + e)));
        } while ((e += 16) < cb);
      }
      x += cb;
      codes += 4;
    }
    x += 2 * cb;
    codes += 8;
  }
}

// ---- The refinement layer's stripes (FORMAT.md 6.3) ----

// 2^30 - powers(base, n + 1)[n] of 6.3: its distribution family's zero levels and decays (Q30)
function power(base: u64, n: u32): u64 {
  let v: u64 = 0x40000000;
  for (let i: u32 = 0; i <= n; i++) v = (v * base + 0x20000000) >> 30;
  return 0x40000000 - v;
}

// The cumulative table (32 int32 at t) of member m of the distribution family (Q30 fixed
// point, products below 2^60)
function memberTable(m: u32, t: usize): void {
  const Q30: u64 = 0x40000000, rest = Q30 - power(902905651, m >> 4), r = power(852229450, m & 15);
  let run = Q30, sum: u64 = 0;
  for (let i = 0; i < 15; i++) {    // half i (at 16 + i and 14 - i)
    let mag: u64;
    if (i < 14) {
      mag = (rest * ((run * (Q30 - r)) >> 30)) >> 30;
      run = (run * r) >> 30;
    } else {
      mag = (rest * run) >> 30;
    }
    mag = max<u64>(mag >> 11, 1);
    store<u32>(t + ((16 + i) << 2), <u32>mag);
    store<u32>(t + ((14 - i) << 2), <u32>mag);
    sum += mag;
  }
  store<u32>(t, <u32>(1048576 - (sum << 1)), 60);
  // frequencies -> table: trunc(f32(c (2^24 - 31) 2^-20)) + s, c the running sum
  let c: i64 = 0;
  for (let s = 0; s < 31; s++) {
    const f = load<i32>(t + (s << 2));
    store<i32>(t + (s << 2), s + <i32><f32>(<f64>c * 16777185 * (1.0 / 1048576)));
    c += f;
  }
  store<i32>(t, 16777216, 124);
}

// the member tables (32 int32 each), computed the first time a member is used (entry 31 is 0 before)
const TABLES = memory.data(1024 * 128, 16);

// the first band of each group after the first (6.2)
const GROUP_ENDS = memory.data<u8>([1, 2, 3, 4, 6, 8, 10, 13, 15, 21, 28, 36, 45, 64]);

// One stripe: the stream's n words at src -> coefficients (channels, bh, bw, 64) int32 at out.
// tmp: 10 P + 1300 int32, zeroed (P = channels bh bw). Returns 1 where the data is invalid.
export function stripe(src: usize, n: i32, channels: i32, bh: i32, bw: i32, out: usize, tmp: usize): i32 {
  const nb = bh * bw, P = channels * nb, nk = channels * 140, size = P << 2;
  // int32 arrays of P, then counts and starts (nk + 1) and the members of the classes (nk)
  const earlier = tmp, rows = earlier + size, box = rows + size, values = box + size, cls = values + size, order = cls + size;
  const pos = order + size, info = pos + size, esc = info + size, kk = esc + size, counts = kk + size, start = counts + 1700, member = start + 1700;
  memory.fill(member, 0xff, nk << 2);
  stream(src, n);
  // the positions of the two passes (x + y even, then odd), info: channel 16 + which
  // neighbours exist (1 above, 2 below, 4 left, 8 right)
  const half = channels * ((nb + 1) >> 1);
  for (let p = 0, even = 0, odd = half; p < P; p++) {
    const y = (p % nb) / bw, x = p % bw, k = (x + y) & 1 ? odd++ : even++;
    store<i32>(pos + (k << 2), p);
    store<i32>(info + (k << 2), ((p / nb) << 4) | i32(y > 0) | (i32(y + 1 < bh) << 1) | (i32(x > 0) << 2) | (i32(x + 1 < bw) << 3));
  }
  for (let band = 0, g = 0; band < 64; band++) {
    if (band == load<u8>(GROUP_ENDS + g)) g++;    // the band's group
    // box: the 3x3 sums of `earlier` (zero outside): along the rows, then the columns
    for (let r = 0; r < channels * bh; r++) {
      for (let x = 0; x < bw; x++) {
        const o = (r * bw + x) << 2, e = earlier + o;
        store<i32>(rows + o, load<i32>(e) + (x > 0 ? load<i32>(e - 4) : 0) + (x + 1 < bw ? load<i32>(e, 4) : 0));
      }
    }
    for (let r = 0; r < channels * bh; r++) {
      const y = r % bh;
      for (let x = 0; x < bw; x++) {
        const o = (r * bw + x) << 2, e = rows + o;
        store<i32>(box + o, load<i32>(e) + (y > 0 ? load<i32>(e - (bw << 2)) : 0) + (y + 1 < bh ? load<i32>(e + (bw << 2)) : 0));
      }
    }
    for (let pass = 0; pass < 2; pass++) {
      const first = pass ? half : 0, last = pass ? P : half;
      memory.fill(counts, 0, (nk + 1) << 2);
      // classes: the activity of the box and, in the second pass, of the 4 decoded neighbours
      for (let k = first; k < last; k++) {
        const p = load<i32>(pos + (k << 2)), f = load<i32>(info + (k << 2)), v = values + (p << 2);
        let total = load<i32>(box + (p << 2));
        if (pass) {
          const vertical = (f & 1 ? abs(load<i32>(v - (bw << 2))) : 0) + (f & 2 ? abs(load<i32>(v + (bw << 2))) : 0);
          total += (vertical + (f & 4 ? abs(load<i32>(v - 4)) : 0) + (f & 8 ? abs(load<i32>(v + 4)) : 0)) << 2;
        }
        const c = (((f >> 4) * 14 + g) * 10 + min(total > 0 ? 32 - clz(total) : 0, 9)) << 2;
        store<i32>(cls + (p << 2), c);
        store<i32>(counts + c + 4, load<i32>(counts + c + 4) + 1);
      }
      // counts -> starts; the positions by class (stable)
      for (let k = 4; k <= nk << 2; k += 4) store<i32>(counts + k, load<i32>(counts + k) + load<i32>(counts + k - 4));
      memory.copy(start, counts, (nk + 1) << 2);
      for (let k = first; k < last; k++) {
        const p = load<i32>(pos + (k << 2)), s = start + load<i32>(cls + (p << 2)), at = load<i32>(s);
        store<i32>(order + (at << 2), p);
        store<i32>(s, at + 1);
      }
      // each class with positions: its member (chosen at its first use), its values
      for (let k = 0; k < nk; k++) {
        const i0 = load<i32>(counts + (k << 2)), i1 = load<i32>(counts + (k << 2), 4), m = member + (k << 2);
        if (i0 == i1) continue;
        if (load<i32>(m) < 0) store<i32>(m, uniform(2) == 1 ? 1008 : (uniform(64) << 4) + decode(DECAY, 16));
        const t = TABLES + (load<i32>(m) << 7);
        if (!load<i32>(t, 124)) memberTable(load<i32>(m), t);
        for (let i = i0; i < i1; i++) store<i32>(values + (load<i32>(order + (i << 2)) << 2), decode(t, 31) - 15);
      }
    }
    // escapes (|value| 15): the excess, an Exp-Golomb batch (rows: the excess + 1)
    let ne = 0;
    for (let p = 0; p < P; p++) if (abs(load<i32>(values + (p << 2))) == 15) store<i32>(esc + (ne++ << 2), p);
    golomb(ne, kk, rows);
    for (let i = 0; i < ne << 2; i += 4) {
      const v = values + (load<i32>(esc + i) << 2), excess = load<i32>(rows + i) - 1;
      store<i32>(v, load<i32>(v) + (load<i32>(v) < 0 ? -excess : excess));
    }
    // the band's coefficients; earlier += min(|value|, 15)
    for (let p = 0; p < P; p++) {
      const v = load<i32>(values + (p << 2));
      store<i32>(out + (((p << 6) + band) << 2), v);
      store<i32>(earlier + (p << 2), load<i32>(earlier + (p << 2)) + min(abs(v), 15));
    }
  }
  return i32(bad);
}

// ---- Convolutions by Winograd's transforms (Lavin and Gray 2015): per 2x2 tile of outputs,
// V = B' d B of an input patch d, products of V (tiles x c) with U = G g G' (c x co, synthesis.js
// winograd), the outputs A' M A. Four channels a vector (c a multiple of 4); a transform runs
// along the columns of a patch into tmp, then along tmp's rows. A 3x3 convolution by F(2x2,
// 3x3): 4x4 patches, 16 products. The upsampling layers' ConvTranspose2d 4x4 stride 2
// (kernels.js convTPhases) by F(2x2, 2x2) per output phase (py, px): out(2m + py, 2n + px) =
// sum over a, b of x(m + a + py, n + b + px) w(a, b) (x zero-bordered), per 2x2 tile of (m, n)
// a 3x3 patch, 9 products. ----

// F(2x2, 3x3)'s B' along a line of 4 vectors `from` bytes apart at p (each at least lo: lo 0
// for a ReLU, -inf for none), into 4 `to` apart at q
@inline function in4(p: usize, from: usize, q: usize, to: usize, lo: v128): void {
  const a = f32x4.pmax(v128.load(p), lo), b = f32x4.pmax(v128.load(p + from), lo);
  const c = f32x4.pmax(v128.load(p + 2 * from), lo), d = f32x4.pmax(v128.load(p + 3 * from), lo);
  v128.store(q, f32x4.sub(a, c));
  v128.store(q + to, f32x4.add(b, c));
  v128.store(q + 2 * to, f32x4.sub(c, b));
  v128.store(q + 3 * to, f32x4.sub(b, d));
}

// F(2x2, 3x3)'s A': m0 + m1 + m2, m1 - m2 - m3
@inline function out4(p: usize, from: usize, q: usize, to: usize): void {
  const a = v128.load(p), b = v128.load(p + from), c = v128.load(p + 2 * from), d = v128.load(p + 3 * from);
  v128.store(q, f32x4.add(f32x4.add(a, b), c));
  v128.store(q + to, f32x4.sub(f32x4.sub(b, c), d));
}

// F(2x2, 2x2)'s B' = [1 -1 0; 0 1 0; 0 -1 1] along a line of 3
@inline function in3(p: usize, from: usize, q: usize, to: usize, lo: v128): void {
  const a = f32x4.pmax(v128.load(p), lo), b = f32x4.pmax(v128.load(p + from), lo), c = f32x4.pmax(v128.load(p + 2 * from), lo);
  v128.store(q, f32x4.sub(a, b));
  v128.store(q + to, b);
  v128.store(q + 2 * to, f32x4.sub(c, b));
}

// F(2x2, 2x2)'s A' = [1 1 0; 0 1 1]
@inline function out3(p: usize, from: usize, q: usize, to: usize): void {
  const a = v128.load(p), b = v128.load(p + from), c = v128.load(p + 2 * from);
  v128.store(q, f32x4.add(a, b));
  v128.store(q + to, f32x4.add(b, c));
}

// V of the n tiles from tile row ty0 (tw tiles a row) of x (zero-bordered, rows of wp pixels of
// c floats), through a ReLU where flags & RELU_IN: a 3x3 convolution's (16 matrices of n rows
// of c floats; tile (ty, tx) reads the 4x4 pixels from (2 ty, 2 tx)) or an upsampling's where
// `phases` (36: phase 9 + 3 i + j; tile (ty, tx) phase (py, px) reads the 3x3 pixels from
// (2 ty + py, 2 tx + px)). tmp: 16 vectors of scratch.
export function wino_in(x: usize, wp: i32, c: i32, ty0: i32, tw: i32, n: i32, V: usize, tmp: usize, flags: i32, phases: bool): void {
  const cb = c << 2, stride = n * cb, none = f32x4.splat(-Infinity), lo = flags & RELU_IN ? f32x4.splat(0) : none;
  let t = 0;
  do {
    const base = x + (2 * (ty0 + t / tw) * wp + 2 * (t % tw)) * cb, v = V + t * cb;   // (stride: between the matrices)
    let e = 0;
    do {
      let k = 0;
      if (!phases) {
        do in4(base + e + k * cb, wp * cb, tmp + (k << 4), 64, lo); while (++k < 4);
        k = 0;
        do in4(tmp + (k << 6), 16, v + e + 4 * k * stride, stride, none); while (++k < 4);
      } else {
        for (let ph = 0; ph < 4; ph++) {
          const patch = base + e + ((ph >> 1) * wp + (ph & 1)) * cb;
          k = 0;
          do in3(patch + k * cb, wp * cb, tmp + (k << 4), 48, lo); while (++k < 3);
          k = 0;
          do in3(tmp + k * 48, 16, v + e + (9 * ph + 3 * k) * stride, stride, none); while (++k < 3);
        }
      }
    } while ((e += 16) < cb);
  } while (++t < n);
}

// The outputs of the n tiles from tile row ty0 (tw a row): A' M A (M: wino_in's V after the
// products, co = c) + bias, through a ReLU where flags & RELU, into y (zero-bordered, rows of wp
// pixels of c floats; pixel (i, j) at ((i + 1) wp + j + 1) c) where i < h and j < w. A 3x3
// convolution's tile (ty, tx): pixels (2 ty + a, 2 tx + b); an upsampling's phase (py, px):
// (4 ty + 2 a + py, 4 tx + 2 b + px); a, b in {0, 1}. tmp: 8 vectors.
export function wino_out(M: usize, c: i32, ty0: i32, tw: i32, n: i32, y: usize, wp: i32, h: i32, w: i32, bias: usize, flags: i32, tmp: usize, phases: bool): void {
  const cb = c << 2, stride = n * cb, lo = flags & RELU ? f32x4.splat(0) : f32x4.splat(-Infinity);
  let t = 0;
  do {
    const m = M + t * cb;
    let e = 0;
    do {
      const bv = v128.load(bias + e);
      let k = 0;
      if (!phases) {
        const i = 2 * (ty0 + t / tw), j = 2 * (t % tw);
        do out4(m + e + k * stride, 4 * stride, tmp + (k << 4), 64); while (++k < 4);
        // rows k of tmp: pixels (i + k, j) and (i + k, j + 1)
        k = 0;
        do {
          const p = tmp + (k << 6), a = v128.load(p), b = v128.load(p, 16), cc = v128.load(p, 32), d = v128.load(p, 48);
          const at = y + e + ((i + k + 1) * wp + j + 1) * cb;
          if (i + k < h) v128.store(at, f32x4.pmax(f32x4.add(f32x4.add(f32x4.add(a, b), cc), bv), lo));
          if (i + k < h && j + 1 < w) v128.store(at + cb, f32x4.pmax(f32x4.add(f32x4.sub(f32x4.sub(b, cc), d), bv), lo));
        } while (++k < 2);
      } else {
        for (let ph = 0; ph < 4; ph++) {
          const i = 4 * (ty0 + t / tw) + (ph >> 1), j = 4 * (t % tw) + (ph & 1);
          k = 0;
          do out3(m + e + (9 * ph + k) * stride, 3 * stride, tmp + (k << 4), 48); while (++k < 3);
          // rows k of tmp: pixels (i + 2 k, j) and (i + 2 k, j + 2)
          k = 0;
          do {
            const p = tmp + k * 48, a = v128.load(p), b = v128.load(p, 16), cc = v128.load(p, 32);
            const at = y + e + ((i + 2 * k + 1) * wp + j + 1) * cb;
            if (i + 2 * k < h && j < w) v128.store(at, f32x4.pmax(f32x4.add(f32x4.add(a, b), bv), lo));
            if (i + 2 * k < h && j + 2 < w) v128.store(at + 2 * cb, f32x4.pmax(f32x4.add(f32x4.add(b, cc), bv), lo));
          } while (++k < 2);
        }
      }
    } while ((e += 16) < cb);
  } while (++t < n);
}
