;; The hot loops of kernels.js in WebAssembly SIMD. Byte addresses; row-major; lda, ldc: the
;; distance between rows of A and of C in elements. In order: the matrix products (float32,
;; int16); the integer prior's requantization; ReLU; the restoration filter; FiLM; the prior's
;; symbol distributions; rounding; the filter's colour plane; the refinement's stripe decoder
;; (range decoder included); table sums for a convolution of code vectors; Winograd transforms.
;; Matrix products C (M x N) = A (M x K) @ B (K x N), two rows of A and 16 columns at a time (the
;; last row alone where M is odd), N a multiple of 16, B packed by kernels.js in panels of 16
;; columns (each panel's K rows contiguous: no cache-hostile strides for wide matrices).
;; Built into gemm.wasm.js by web/build_wasm.mjs (wabt).
(module
  (memory (export "mem") 256 32768)

  ;; f32: C = (flags & 1 ? C : 0) + bias (N floats at $bias, unless 0) + A @ B, stored through a
  ;; ReLU where flags & 2.
  (func (export "gemm_f32") (param $a i32) (param $lda i32) (param $b i32) (param $c i32) (param $ldc i32)
    (param $M i32) (param $K i32) (param $N i32) (param $bias i32) (param $flags i32)
    (local $i i32) (local $j i32) (local $k i32) (local $pa i32) (local $pb i32) (local $pc i32)
    (local $sa i32) (local $sc i32) (local $sa2 i32) (local $sc2 i32) (local $x v128) (local $y v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128)
    (if (i32.or (i32.or (i32.eqz (local.get $M)) (i32.eqz (local.get $N))) (i32.lt_u (local.get $K) (i32.const 1))) (then (return)))
    (local.set $sa (i32.shl (local.get $lda) (i32.const 2)))
    (local.set $sc (i32.shl (local.get $ldc) (i32.const 2)))
    (loop $cols
      (local.set $i (i32.const 0))
      (loop $rows
        ;; a last single row: the second row repeats it and is not stored
        (local.set $sa2 (select (local.get $sa) (i32.const 0) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $M))))
        (local.set $sc2 (select (local.get $sc) (i32.const 0) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $M))))
        (local.set $pc (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $sc))) (i32.shl (local.get $j) (i32.const 2))))
        (if (i32.and (local.get $flags) (i32.const 1))
          (then
            (local.set $p0 (v128.load offset=0 (local.get $pc))) (local.set $p1 (v128.load offset=16 (local.get $pc)))
            (local.set $p2 (v128.load offset=32 (local.get $pc))) (local.set $p3 (v128.load offset=48 (local.get $pc)))
            (local.set $q0 (v128.load offset=0 (i32.add (local.get $pc) (local.get $sc2))))
            (local.set $q1 (v128.load offset=16 (i32.add (local.get $pc) (local.get $sc2))))
            (local.set $q2 (v128.load offset=32 (i32.add (local.get $pc) (local.get $sc2))))
            (local.set $q3 (v128.load offset=48 (i32.add (local.get $pc) (local.get $sc2)))))
          (else
            (local.set $p0 (v128.const i64x2 0 0)) (local.set $p1 (v128.const i64x2 0 0))
            (local.set $p2 (v128.const i64x2 0 0)) (local.set $p3 (v128.const i64x2 0 0))
            (local.set $q0 (v128.const i64x2 0 0)) (local.set $q1 (v128.const i64x2 0 0))
            (local.set $q2 (v128.const i64x2 0 0)) (local.set $q3 (v128.const i64x2 0 0))))
        (if (local.get $bias)
          (then
            (local.set $pb (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $b0 (v128.load offset=0 (local.get $pb))) (local.set $b1 (v128.load offset=16 (local.get $pb)))
            (local.set $b2 (v128.load offset=32 (local.get $pb))) (local.set $b3 (v128.load offset=48 (local.get $pb)))
            (local.set $p0 (f32x4.add (local.get $p0) (local.get $b0))) (local.set $p1 (f32x4.add (local.get $p1) (local.get $b1)))
            (local.set $p2 (f32x4.add (local.get $p2) (local.get $b2))) (local.set $p3 (f32x4.add (local.get $p3) (local.get $b3)))
            (local.set $q0 (f32x4.add (local.get $q0) (local.get $b0))) (local.set $q1 (f32x4.add (local.get $q1) (local.get $b1)))
            (local.set $q2 (f32x4.add (local.get $q2) (local.get $b2))) (local.set $q3 (f32x4.add (local.get $q3) (local.get $b3)))))
        (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sa))))
        (local.set $pb (i32.add (local.get $b) (i32.mul (local.get $j) (i32.shl (local.get $K) (i32.const 2)))))
        (local.set $k (local.get $K))
        (loop $inner
          (local.set $x (v128.load32_splat (local.get $pa)))
          (local.set $y (v128.load32_splat (i32.add (local.get $pa) (local.get $sa2))))
          (local.set $b0 (v128.load offset=0 (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $b2 (v128.load offset=32 (local.get $pb)))
          (local.set $b3 (v128.load offset=48 (local.get $pb)))
          (local.set $p0 (f32x4.add (local.get $p0) (f32x4.mul (local.get $x) (local.get $b0))))
          (local.set $p1 (f32x4.add (local.get $p1) (f32x4.mul (local.get $x) (local.get $b1))))
          (local.set $p2 (f32x4.add (local.get $p2) (f32x4.mul (local.get $x) (local.get $b2))))
          (local.set $p3 (f32x4.add (local.get $p3) (f32x4.mul (local.get $x) (local.get $b3))))
          (local.set $q0 (f32x4.add (local.get $q0) (f32x4.mul (local.get $y) (local.get $b0))))
          (local.set $q1 (f32x4.add (local.get $q1) (f32x4.mul (local.get $y) (local.get $b1))))
          (local.set $q2 (f32x4.add (local.get $q2) (f32x4.mul (local.get $y) (local.get $b2))))
          (local.set $q3 (f32x4.add (local.get $q3) (f32x4.mul (local.get $y) (local.get $b3))))
          (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
          (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
          (br_if $inner (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
        (if (i32.and (local.get $flags) (i32.const 2))    ;; ReLU: a pseudo-maximum with 0
          (then
            (local.set $x (v128.const f32x4 0 0 0 0))
            (local.set $p0 (f32x4.pmax (local.get $p0) (local.get $x))) (local.set $p1 (f32x4.pmax (local.get $p1) (local.get $x)))
            (local.set $p2 (f32x4.pmax (local.get $p2) (local.get $x))) (local.set $p3 (f32x4.pmax (local.get $p3) (local.get $x)))
            (local.set $q0 (f32x4.pmax (local.get $q0) (local.get $x))) (local.set $q1 (f32x4.pmax (local.get $q1) (local.get $x)))
            (local.set $q2 (f32x4.pmax (local.get $q2) (local.get $x))) (local.set $q3 (f32x4.pmax (local.get $q3) (local.get $x)))))
        (v128.store offset=0 (local.get $pc) (local.get $p0))
        (v128.store offset=16 (local.get $pc) (local.get $p1))
        (v128.store offset=32 (local.get $pc) (local.get $p2))
        (v128.store offset=48 (local.get $pc) (local.get $p3))
        (if (local.get $sc2)
          (then
            (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
            (v128.store offset=0 (local.get $pc) (local.get $q0))
            (v128.store offset=16 (local.get $pc) (local.get $q1))
            (v128.store offset=32 (local.get $pc) (local.get $q2))
            (v128.store offset=48 (local.get $pc) (local.get $q3))))
        (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 2))) (local.get $M))))
      (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 16))) (local.get $N)))))

  ;; i16 -> i32: C = (flags & 1 ? C : 0) + A @ B, K even, each panel of B packed as (K/2, 16, 2):
  ;; the pair (B[2k][j], B[2k+1][j]) side by side, so i32x4.dot_i16x8_s does 8 products.
  (func (export "gemm_i16") (param $a i32) (param $lda i32) (param $b i32) (param $c i32) (param $ldc i32)
    (param $M i32) (param $K i32) (param $N i32) (param $flags i32)
    (local $i i32) (local $j i32) (local $k i32) (local $pa i32) (local $pb i32) (local $pc i32)
    (local $sa i32) (local $sc i32) (local $sa2 i32) (local $sc2 i32) (local $x v128) (local $y v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128)
    (if (i32.or (i32.or (i32.eqz (local.get $M)) (i32.eqz (local.get $N))) (i32.lt_u (local.get $K) (i32.const 2))) (then (return)))
    (local.set $sa (i32.shl (local.get $lda) (i32.const 1)))
    (local.set $sc (i32.shl (local.get $ldc) (i32.const 2)))
    (loop $cols
      (local.set $i (i32.const 0))
      (loop $rows
        (local.set $sa2 (select (local.get $sa) (i32.const 0) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $M))))
        (local.set $sc2 (select (local.get $sc) (i32.const 0) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $M))))
        (local.set $pc (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $sc))) (i32.shl (local.get $j) (i32.const 2))))
        (if (local.get $flags)
          (then
            (local.set $p0 (v128.load offset=0 (local.get $pc))) (local.set $p1 (v128.load offset=16 (local.get $pc)))
            (local.set $p2 (v128.load offset=32 (local.get $pc))) (local.set $p3 (v128.load offset=48 (local.get $pc)))
            (local.set $q0 (v128.load offset=0 (i32.add (local.get $pc) (local.get $sc2))))
            (local.set $q1 (v128.load offset=16 (i32.add (local.get $pc) (local.get $sc2))))
            (local.set $q2 (v128.load offset=32 (i32.add (local.get $pc) (local.get $sc2))))
            (local.set $q3 (v128.load offset=48 (i32.add (local.get $pc) (local.get $sc2)))))
          (else
            (local.set $p0 (v128.const i64x2 0 0)) (local.set $p1 (v128.const i64x2 0 0))
            (local.set $p2 (v128.const i64x2 0 0)) (local.set $p3 (v128.const i64x2 0 0))
            (local.set $q0 (v128.const i64x2 0 0)) (local.set $q1 (v128.const i64x2 0 0))
            (local.set $q2 (v128.const i64x2 0 0)) (local.set $q3 (v128.const i64x2 0 0))))
        (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sa))))
        (local.set $pb (i32.add (local.get $b) (i32.mul (local.get $j) (i32.shl (local.get $K) (i32.const 1)))))
        (local.set $k (i32.shr_u (local.get $K) (i32.const 1)))
        (loop $inner
          (local.set $x (v128.load32_splat (local.get $pa)))
          (local.set $y (v128.load32_splat (i32.add (local.get $pa) (local.get $sa2))))
          (local.set $b0 (v128.load offset=0 (local.get $pb)))
          (local.set $b1 (v128.load offset=16 (local.get $pb)))
          (local.set $b2 (v128.load offset=32 (local.get $pb)))
          (local.set $b3 (v128.load offset=48 (local.get $pb)))
          (local.set $p0 (i32x4.add (local.get $p0) (i32x4.dot_i16x8_s (local.get $x) (local.get $b0))))
          (local.set $p1 (i32x4.add (local.get $p1) (i32x4.dot_i16x8_s (local.get $x) (local.get $b1))))
          (local.set $p2 (i32x4.add (local.get $p2) (i32x4.dot_i16x8_s (local.get $x) (local.get $b2))))
          (local.set $p3 (i32x4.add (local.get $p3) (i32x4.dot_i16x8_s (local.get $x) (local.get $b3))))
          (local.set $q0 (i32x4.add (local.get $q0) (i32x4.dot_i16x8_s (local.get $y) (local.get $b0))))
          (local.set $q1 (i32x4.add (local.get $q1) (i32x4.dot_i16x8_s (local.get $y) (local.get $b1))))
          (local.set $q2 (i32x4.add (local.get $q2) (i32x4.dot_i16x8_s (local.get $y) (local.get $b2))))
          (local.set $q3 (i32x4.add (local.get $q3) (i32x4.dot_i16x8_s (local.get $y) (local.get $b3))))
          (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
          (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
          (br_if $inner (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
        (v128.store offset=0 (local.get $pc) (local.get $p0))
        (v128.store offset=16 (local.get $pc) (local.get $p1))
        (v128.store offset=32 (local.get $pc) (local.get $p2))
        (v128.store offset=48 (local.get $pc) (local.get $p3))
        (if (local.get $sc2)
          (then
            (local.set $pc (i32.add (local.get $pc) (local.get $sc)))
            (v128.store offset=0 (local.get $pc) (local.get $q0))
            (v128.store offset=16 (local.get $pc) (local.get $q1))
            (v128.store offset=32 (local.get $pc) (local.get $q2))
            (v128.store offset=48 (local.get $pc) (local.get $q3))))
        (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 2))) (local.get $M))))
      (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 16))) (local.get $N)))))

  ;; The integer prior's requantization (FORMAT.md 4.2), rows x cols int32 values y (cols a
  ;; multiple of 4): v = clamp(rq(y) + add, lo, hi), rq(y) = (y + bias[c]) >> shift[c] computed
  ;; as ((y + bias[c]) mul[c]) >> S in 64 bits, mul[c] = 2^(S - shift[c]) (exact; rq clamped to
  ;; +-2^24 before the add, which changes no result); add (int32) only where $add is not 0;
  ;; v stored (int32) at $d32 unless 0, and (int16) at $d16 unless 0: v, or lut[(v >> 4) + 2048]
  ;; (int8) where $lut is not 0. Leading dimensions in elements.
  (func (export "rq") (param $y i32) (param $ldy i32) (param $add i32) (param $ldadd i32) (param $d32 i32) (param $ld32 i32)
    (param $d16 i32) (param $ld16 i32) (param $lut i32) (param $rows i32) (param $cols i32)
    (param $bias i32) (param $mul i32) (param $S i32) (param $lo i32) (param $hi i32)
    (local $c i32) (local $o i32) (local $p i32) (local $v v128) (local $vlo v128) (local $vhi v128)
    (if (i32.or (i32.eqz (local.get $rows)) (i32.eqz (local.get $cols))) (then (return)))
    (local.set $vlo (i32x4.splat (local.get $lo)))
    (local.set $vhi (i32x4.splat (local.get $hi)))
    (loop $row
      (local.set $c (i32.const 0))
      (loop $col
        (local.set $o (i32.shl (local.get $c) (i32.const 2)))
        (local.set $v (i32x4.add (v128.load (i32.add (local.get $y) (local.get $o))) (v128.load (i32.add (local.get $bias) (local.get $o)))))
        (local.set $v (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
          (i64x2.shr_u (i64x2.extmul_low_i32x4_s (local.get $v) (v128.load (i32.add (local.get $mul) (local.get $o)))) (local.get $S))
          (i64x2.shr_u (i64x2.extmul_high_i32x4_s (local.get $v) (v128.load (i32.add (local.get $mul) (local.get $o)))) (local.get $S))))
        (local.set $v (i32x4.min_s (i32x4.max_s (local.get $v) (v128.const i32x4 -16777216 -16777216 -16777216 -16777216)) (v128.const i32x4 16777216 16777216 16777216 16777216)))
        (if (local.get $add)
          (then (local.set $v (i32x4.add (local.get $v) (v128.load (i32.add (local.get $add) (local.get $o)))))))
        (local.set $v (i32x4.min_s (i32x4.max_s (local.get $v) (local.get $vlo)) (local.get $vhi)))
        (if (local.get $d32) (then (v128.store (i32.add (local.get $d32) (local.get $o)) (local.get $v))))
        (if (local.get $d16)
          (then
            (local.set $p (i32.add (local.get $d16) (i32.shl (local.get $c) (i32.const 1))))
            (if (local.get $lut)
              (then
                (local.set $v (i32x4.add (i32x4.shr_s (local.get $v) (i32.const 4)) (i32x4.splat (i32.add (local.get $lut) (i32.const 2048)))))
                (i32.store16 offset=0 (local.get $p) (i32.load8_s (i32x4.extract_lane 0 (local.get $v))))
                (i32.store16 offset=2 (local.get $p) (i32.load8_s (i32x4.extract_lane 1 (local.get $v))))
                (i32.store16 offset=4 (local.get $p) (i32.load8_s (i32x4.extract_lane 2 (local.get $v))))
                (i32.store16 offset=6 (local.get $p) (i32.load8_s (i32x4.extract_lane 3 (local.get $v)))))
              (else (v128.store64_lane 0 (local.get $p) (i16x8.narrow_i32x4_s (local.get $v) (local.get $v)))))))
        (br_if $col (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 4))) (local.get $cols))))
      (local.set $y (i32.add (local.get $y) (i32.shl (local.get $ldy) (i32.const 2))))
      (local.set $add (select (i32.add (local.get $add) (i32.shl (local.get $ldadd) (i32.const 2))) (i32.const 0) (local.get $add)))
      (local.set $d32 (select (i32.add (local.get $d32) (i32.shl (local.get $ld32) (i32.const 2))) (i32.const 0) (local.get $d32)))
      (local.set $d16 (select (i32.add (local.get $d16) (i32.shl (local.get $ld16) (i32.const 1))) (i32.const 0) (local.get $d16)))
      (br_if $row (local.tee $rows (i32.sub (local.get $rows) (i32.const 1))))))

  ;; f32: dst = relu(src), n floats (a multiple of 4)
  (func (export "relu") (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (v128.store (local.get $dst) (f32x4.pmax (v128.load (local.get $src)) (v128.const f32x4 0 0 0 0)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))

  ;; The restoration filter's pass over one colour plane (FORMAT.md 8; float32 as filter.js):
  ;; P the plane with a border of 2 (rows width + 4 floats), per pixel cls (u8) picks 13 weights
  ;; of wf, offs the 12 taps' offsets (in floats); delta (3 floats a pixel) += d (d0, d1, d2).
  (func (export "filter") (param $P i32) (param $cls i32) (param $wf i32) (param $offs i32) (param $delta i32)
    (param $width i32) (param $height i32) (param $d0 f32) (param $d1 f32) (param $d2 f32)
    (local $x i32) (local $at i32) (local $o i32) (local $t i32) (local $off i32) (local $d f32) (local $c2 f32)
    (if (i32.or (i32.eqz (local.get $width)) (i32.eqz (local.get $height))) (then (return)))
    (local.set $at (i32.add (local.get $P) (i32.shl (i32.add (i32.mul (i32.const 2) (i32.add (local.get $width) (i32.const 4))) (i32.const 2)) (i32.const 2))))
    (loop $row
      (local.set $x (local.get $width))
      (loop $pixel
        (local.set $o (i32.add (local.get $wf) (i32.mul (i32.load8_u (local.get $cls)) (i32.const 52))))
        (local.set $c2 (f32.mul (f32.const 2) (f32.load (local.get $at))))
        (local.set $d (f32.load offset=48 (local.get $o)))
        (local.set $t (i32.const 0))
        (loop $tap
          (local.set $off (i32.shl (i32.load (i32.add (local.get $offs) (local.get $t))) (i32.const 2)))
          (local.set $d (f32.add (local.get $d) (f32.mul (f32.load (i32.add (local.get $o) (local.get $t)))
            (f32.sub (f32.add (f32.load (i32.add (local.get $at) (local.get $off))) (f32.load (i32.sub (local.get $at) (local.get $off)))) (local.get $c2)))))
          (br_if $tap (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 4))) (i32.const 48))))
        (f32.store offset=0 (local.get $delta) (f32.add (f32.load offset=0 (local.get $delta)) (f32.mul (local.get $d) (local.get $d0))))
        (f32.store offset=4 (local.get $delta) (f32.add (f32.load offset=4 (local.get $delta)) (f32.mul (local.get $d) (local.get $d1))))
        (f32.store offset=8 (local.get $delta) (f32.add (f32.load offset=8 (local.get $delta)) (f32.mul (local.get $d) (local.get $d2))))
        (local.set $delta (i32.add (local.get $delta) (i32.const 12)))
        (local.set $cls (i32.add (local.get $cls) (i32.const 1)))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br_if $pixel (local.tee $x (i32.sub (local.get $x) (i32.const 1)))))
      (local.set $at (i32.add (local.get $at) (i32.const 16)))
      (br_if $row (local.tee $height (i32.sub (local.get $height) (i32.const 1))))))

  ;; FiLM: n pixels of c floats (c a multiple of 4) at $p, v = relu(v st[k] + st[c + k]), each
  ;; operation rounded to float32
  (func (export "film") (param $p i32) (param $n i32) (param $c i32) (param $st i32)
    (local $k i32) (local $cb i32)
    (if (i32.or (i32.eqz (local.get $n)) (i32.eqz (local.get $c))) (then (return)))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (loop $pixel
      (local.set $k (i32.const 0))
      (loop $channel
        (v128.store (i32.add (local.get $p) (local.get $k))
          (f32x4.pmax (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $k))) (v128.load (i32.add (local.get $st) (local.get $k))))
            (v128.load (i32.add (i32.add (local.get $st) (local.get $cb)) (local.get $k)))) (v128.const f32x4 0 0 0 0)))
        (br_if $channel (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $cb))))
      (local.set $p (i32.add (local.get $p) (local.get $cb)))
      (br_if $pixel (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

  ;; The symbols' distributions at n positions (FORMAT.md 4.5, 5.1): logits (y + bias) >> shift of
  ;; K int32 values y (rows K apart), frequencies from the table exp (float64 integers) summing to
  ;; 2^23, and the coder's cumulative table: K + 1 int32 a position at $cum (rows K + 1 apart).
  (func (export "symbols") (param $y i32) (param $n i32) (param $K i32) (param $bias i32) (param $shift i32) (param $exp i32) (param $cum i32)
    (local $s i32) (local $o i32) (local $lg i32) (local $max i32) (local $arg i32) (local $f i64)
    (local $sum i64) (local $num i64) (local $M i64) (local $total i64) (local $k f64)
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $num (i64.shl (i64.extend_i32_u (i32.sub (i32.const 8388608) (local.get $K))) (i64.const 29)))
    (local.set $k (f64.convert_i32_u (i32.sub (i32.const 16777216) (local.get $K))))
    (loop $position
      ;; the logits (into the cum row), the first largest
      (local.set $max (i32.const 0x80000000))
      (local.set $s (i32.const 0))
      (loop $logit
        (local.set $o (i32.shl (local.get $s) (i32.const 2)))
        (local.set $lg (i32.shr_s (i32.add (i32.load (i32.add (local.get $y) (local.get $o))) (i32.load (i32.add (local.get $bias) (local.get $o))))
          (i32.load (i32.add (local.get $shift) (local.get $o)))))
        (i32.store (i32.add (local.get $cum) (local.get $o)) (local.get $lg))
        (if (i32.gt_s (local.get $lg) (local.get $max)) (then (local.set $max (local.get $lg)) (local.set $arg (local.get $s))))
        (br_if $logit (i32.lt_u (local.tee $s (i32.add (local.get $s) (i32.const 1))) (local.get $K))))
      ;; exp[min(max - logit, 1023)], their sum
      (local.set $sum (i64.const 0))
      (local.set $s (i32.const 0))
      (loop $freq
        (local.set $o (i32.add (local.get $cum) (i32.shl (local.get $s) (i32.const 2))))
        (local.set $f (i64.sub (i64.extend_i32_s (local.get $max)) (i64.load32_s (local.get $o))))
        (if (i64.gt_s (local.get $f) (i64.const 1023)) (then (local.set $f (i64.const 1023))))
        (local.set $f (i64.trunc_f64_s (f64.load (i32.add (local.get $exp) (i32.shl (i32.wrap_i64 (local.get $f)) (i32.const 3))))))
        (i32.store (local.get $o) (i32.wrap_i64 (local.get $f)))
        (local.set $sum (i64.add (local.get $sum) (local.get $f)))
        (br_if $freq (i32.lt_u (local.tee $s (i32.add (local.get $s) (i32.const 1))) (local.get $K))))
      ;; scaled by M = floor((2^23 - K) 2^29 / sum): floor(f M / 2^29) + 1, the rest to the largest
      (local.set $M (i64.div_u (local.get $num) (local.get $sum)))
      (local.set $total (i64.const 0))
      (local.set $s (i32.const 0))
      (loop $scale
        (local.set $o (i32.add (local.get $cum) (i32.shl (local.get $s) (i32.const 2))))
        (local.set $f (i64.add (i64.shr_u (i64.mul (i64.load32_u (local.get $o)) (local.get $M)) (i64.const 29)) (i64.const 1)))
        (i32.store (local.get $o) (i32.wrap_i64 (local.get $f)))
        (local.set $total (i64.add (local.get $total) (local.get $f)))
        (br_if $scale (i32.lt_u (local.tee $s (i32.add (local.get $s) (i32.const 1))) (local.get $K))))
      (local.set $o (i32.add (local.get $cum) (i32.shl (local.get $arg) (i32.const 2))))
      (i32.store (local.get $o) (i32.add (i32.load (local.get $o)) (i32.wrap_i64 (i64.sub (i64.const 8388608) (local.get $total)))))
      ;; the table: trunc(f32(c (2^24 - K) 2^-23)) + s, c the running sum (rangecoder.js tableOfIntegerRow)
      (local.set $total (i64.const 0))
      (local.set $s (i32.const 0))
      (loop $table
        (local.set $o (i32.add (local.get $cum) (i32.shl (local.get $s) (i32.const 2))))
        (local.set $f (i64.load32_u (local.get $o)))
        (i32.store (local.get $o) (i32.add (local.get $s)
          (i32.trunc_f32_u (f32.demote_f64 (f64.mul (f64.mul (f64.convert_i64_u (local.get $total)) (local.get $k)) (f64.const 0x1p-23))))))
        (local.set $total (i64.add (local.get $total) (local.get $f)))
        (br_if $table (i32.lt_u (local.tee $s (i32.add (local.get $s) (i32.const 1))) (local.get $K))))
      (i32.store (i32.add (local.get $cum) (i32.shl (local.get $K) (i32.const 2))) (i32.const 16777216))
      (local.set $y (i32.add (local.get $y) (i32.shl (local.get $K) (i32.const 2))))
      (local.set $cum (i32.add (local.get $cum) (i32.shl (i32.add (local.get $K) (i32.const 1)) (i32.const 2))))
      (br_if $position (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

  ;; n bytes at $rgb = clamp(round half even(float32(byte + delta)), 0, 255), delta float32
  (func (export "addround") (param $rgb i32) (param $delta i32) (param $n i32)
    (if (i32.eqz (local.get $n)) (then (return)))
    (loop $next
      (i32.store8 (local.get $rgb) (i32.trunc_f32_s (f32.min (f32.max (f32.nearest (f32.add (f32.convert_i32_u (i32.load8_u (local.get $rgb)))
        (f32.load (local.get $delta)))) (f32.const 0)) (f32.const 255))))
      (local.set $rgb (i32.add (local.get $rgb) (i32.const 1)))
      (local.set $delta (i32.add (local.get $delta) (i32.const 4)))
      (br_if $next (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))

  ;; The filter's colour plane: P (rows width + 4 floats) = rgb k (float32: (r k0 + g k1) + b k2)
  ;; inside a border of 2 copies of the edge pixels
  (func (export "plane") (param $rgb i32) (param $P i32) (param $width i32) (param $height i32) (param $k0 f32) (param $k1 f32) (param $k2 f32)
    (local $y i32) (local $x i32) (local $row i32) (local $end i32) (local $wp i32)
    (if (i32.or (i32.eqz (local.get $width)) (i32.eqz (local.get $height))) (then (return)))
    (local.set $wp (i32.shl (i32.add (local.get $width) (i32.const 4)) (i32.const 2)))
    (loop $rows
      (local.set $row (i32.add (i32.add (local.get $P) (i32.mul (i32.add (local.get $y) (i32.const 2)) (local.get $wp))) (i32.const 8)))
      (local.set $end (i32.add (local.get $row) (i32.shl (local.get $width) (i32.const 2))))
      (local.set $x (local.get $row))
      (loop $pixels
        (f32.store (local.get $x) (f32.add (f32.add (f32.mul (f32.convert_i32_u (i32.load8_u offset=0 (local.get $rgb))) (local.get $k0))
          (f32.mul (f32.convert_i32_u (i32.load8_u offset=1 (local.get $rgb))) (local.get $k1)))
          (f32.mul (f32.convert_i32_u (i32.load8_u offset=2 (local.get $rgb))) (local.get $k2))))
        (local.set $rgb (i32.add (local.get $rgb) (i32.const 3)))
        (br_if $pixels (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 4))) (local.get $end))))
      (f32.store offset=0 (i32.sub (local.get $row) (i32.const 8)) (f32.load (local.get $row)))
      (f32.store offset=4 (i32.sub (local.get $row) (i32.const 8)) (f32.load (local.get $row)))
      (f32.store offset=0 (local.get $end) (f32.load offset=0 (i32.sub (local.get $end) (i32.const 4))))
      (f32.store offset=4 (local.get $end) (f32.load offset=0 (i32.sub (local.get $end) (i32.const 4))))
      (br_if $rows (i32.lt_u (local.tee $y (i32.add (local.get $y) (i32.const 1))) (local.get $height))))
    (memory.copy (local.get $P) (i32.add (local.get $P) (i32.shl (local.get $wp) (i32.const 1))) (local.get $wp))
    (memory.copy (i32.add (local.get $P) (local.get $wp)) (i32.add (local.get $P) (i32.shl (local.get $wp) (i32.const 1))) (local.get $wp))
    (local.set $row (i32.add (local.get $P) (i32.mul (i32.add (local.get $height) (i32.const 1)) (local.get $wp))))
    (memory.copy (i32.add (local.get $row) (local.get $wp)) (local.get $row) (local.get $wp))
    (memory.copy (i32.add (local.get $row) (i32.shl (local.get $wp) (i32.const 1))) (local.get $row) (local.get $wp)))

  ;; ---- The refinement layer's stripes (FORMAT.md 6.3), as refine.js decodeStripe ----
  ;; The range decoder (FORMAT.md 5.3): d = point - lower and range in 64 bits, the stream's
  ;; 32-bit words (little-endian) from $w to $wend, zero beyond; $bad set by invalid data.
  (global $d (mut i64) (i64.const 0))
  (global $r (mut i64) (i64.const 0))
  (global $w (mut i32) (i32.const 0))
  (global $wend (mut i32) (i32.const 0))
  (global $bad (mut i32) (i32.const 0))

  (func $word (result i64)
    (local $v i64)
    (if (i32.lt_u (global.get $w) (global.get $wend)) (then (local.set $v (i64.load32_u (global.get $w)))))
    (global.set $w (i32.add (global.get $w) (i32.const 4)))
    (local.get $v))

  ;; the next symbol's position q = d / (range >> 24) on the scale 0 .. 2^24
  (func $target (result i32)
    (local $q i64)
    (local.set $q (i64.div_u (global.get $d) (i64.shr_u (global.get $r) (i64.const 24))))
    (if (i64.ge_u (local.get $q) (i64.const 16777216)) (then (global.set $bad (i32.const 1)) (local.set $q (i64.const 0))))
    (i32.wrap_i64 (local.get $q)))

  ;; consume the symbol [lo, hi) of the scale
  (func $advance (param $lo i32) (param $hi i32)
    (local $scale i64)
    (local.set $scale (i64.shr_u (global.get $r) (i64.const 24)))
    (global.set $d (i64.sub (global.get $d) (i64.mul (local.get $scale) (i64.extend_i32_u (local.get $lo)))))
    (global.set $r (i64.mul (local.get $scale) (i64.extend_i32_u (i32.sub (local.get $hi) (local.get $lo)))))
    (if (i64.lt_u (global.get $r) (i64.const 0x100000000))
      (then
        (global.set $r (i64.shl (global.get $r) (i64.const 32)))
        (global.set $d (i64.or (i64.shl (global.get $d) (i64.const 32)) (call $word))))))

  ;; a symbol of the cumulative table at $cum (K + 1 int32): the last s with cum[s] <= q
  (func $decode (param $cum i32) (param $K i32) (result i32)
    (local $q i32) (local $lo i32) (local $hi i32) (local $mid i32)
    (local.set $q (call $target))
    (local.set $hi (local.get $K))
    (block $found
      (loop $search
        (br_if $found (i32.le_u (i32.sub (local.get $hi) (local.get $lo)) (i32.const 1)))
        (local.set $mid (i32.shr_u (i32.add (local.get $lo) (local.get $hi)) (i32.const 1)))
        (if (i32.le_u (i32.load (i32.add (local.get $cum) (i32.shl (local.get $mid) (i32.const 2)))) (local.get $q))
          (then (local.set $lo (local.get $mid))) (else (local.set $hi (local.get $mid))))
        (br $search)))
    (local.set $cum (i32.add (local.get $cum) (i32.shl (local.get $lo) (i32.const 2))))
    (call $advance (i32.load offset=0 (local.get $cum)) (i32.load offset=4 (local.get $cum)))
    (local.get $lo))

  ;; a symbol of n equally likely ones (rangecoder.js uniform(n))
  (func $uniform (param $n i32) (result i32)
    (local $f i32) (local $s i32)
    (local.set $f (i32.div_u (i32.const 16777216) (local.get $n)))
    (local.set $s (i32.div_u (call $target) (local.get $f)))
    (if (i32.ge_u (local.get $s) (local.get $n)) (then (local.set $s (i32.sub (local.get $n) (i32.const 1)))))
    (call $advance (i32.mul (local.get $s) (local.get $f))
      (select (i32.mul (i32.add (local.get $s) (i32.const 1)) (local.get $f)) (i32.const 16777216) (i32.lt_u (i32.add (local.get $s) (i32.const 1)) (local.get $n))))
    (local.get $s))

  ;; |v|
  (func $abs (param $v i32) (result i32)
    (select (i32.sub (i32.const 0) (local.get $v)) (local.get $v) (i32.lt_s (local.get $v) (i32.const 0))))

  ;; The cumulative table (32 int32 at $t) of member m of the distribution family (refine.js
  ;; memberTable; Q30 fixed point, products below 2^60): ZERO and DECAYS in consts.
  (func $member (param $m i32) (param $t i32) (param $consts i32)
    (local $rest i64) (local $r i64) (local $run i64) (local $mag i64) (local $sum i64) (local $c i64) (local $f i64) (local $i i32)
    (local.set $rest (i64.sub (i64.const 0x40000000) (i64.load32_u offset=392 (i32.add (local.get $consts) (i32.shl (i32.shr_u (local.get $m) (i32.const 4)) (i32.const 2))))))
    (local.set $r (i64.load32_u offset=648 (i32.add (local.get $consts) (i32.shl (i32.and (local.get $m) (i32.const 15)) (i32.const 2)))))
    (local.set $run (i64.const 0x40000000))
    (loop $mags              ;; half i (at 16 + i and 14 - i), i = 0 .. 14
      (if (i32.lt_u (local.get $i) (i32.const 14))
        (then
          (local.set $mag (i64.shr_u (i64.mul (local.get $rest) (i64.shr_u (i64.mul (local.get $run) (i64.sub (i64.const 0x40000000) (local.get $r))) (i64.const 30))) (i64.const 30)))
          (local.set $run (i64.shr_u (i64.mul (local.get $run) (local.get $r)) (i64.const 30))))
        (else (local.set $mag (i64.shr_u (i64.mul (local.get $rest) (local.get $run)) (i64.const 30)))))
      (local.set $mag (i64.shr_u (local.get $mag) (i64.const 11)))
      (if (i64.lt_u (local.get $mag) (i64.const 1)) (then (local.set $mag (i64.const 1))))
      (i64.store32 (i32.add (local.get $t) (i32.shl (i32.add (local.get $i) (i32.const 16)) (i32.const 2))) (local.get $mag))
      (i64.store32 (i32.add (local.get $t) (i32.shl (i32.sub (i32.const 14) (local.get $i)) (i32.const 2))) (local.get $mag))
      (local.set $sum (i64.add (local.get $sum) (local.get $mag)))
      (br_if $mags (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 15))))
    (i64.store32 offset=60 (local.get $t) (i64.sub (i64.const 1048576) (i64.shl (local.get $sum) (i64.const 1))))
    ;; frequencies -> table: trunc(f32(c (2^24 - 31) 2^-20)) + s, c the running sum
    (local.set $i (i32.const 0))
    (loop $table
      (local.set $f (i64.load32_s (local.get $t)))
      (i32.store (local.get $t) (i32.add (local.get $i)
        (i32.trunc_f32_s (f32.demote_f64 (f64.mul (f64.mul (f64.convert_i64_s (local.get $c)) (f64.const 16777185)) (f64.const 0x1p-20))))))
      (local.set $c (i64.add (local.get $c) (local.get $f)))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (br_if $table (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 31))))
    (i32.store (local.get $t) (i32.const 16777216)))

  ;; One stripe: the stream's $n words at $src -> coefficients (channels, bh, bw, 64) int32 at
  ;; $out. $tmp: 10 P + 1300 int32, zeroed (P = channels bh bw); $tables: 1024 member tables
  ;; (32 int32, computed where entry 31 is 0, kept); consts (int32): HALF 0, DECAY 3, PREFIX 20,
  ;; the bands' groups 34, ZERO 98, DECAYS 162. Returns 1 where the data is invalid.
  (func (export "stripe") (param $src i32) (param $n i32) (param $channels i32) (param $bh i32) (param $bw i32)
    (param $out i32) (param $tmp i32) (param $tables i32) (param $consts i32) (result i32)
    (local $P i32) (local $nb i32) (local $nk i32) (local $half i32) (local $band i32) (local $g i32) (local $pass i32)
    (local $i i32) (local $end i32) (local $p i32) (local $c i32) (local $y i32) (local $x i32) (local $k i32) (local $v i32) (local $t i32)
    (local $total i32) (local $f i32) (local $ne i32) (local $bits i32)
    (local $earlier i32) (local $rows i32) (local $box i32) (local $values i32) (local $cls i32) (local $order i32)
    (local $pos i32) (local $info i32) (local $esc i32) (local $kk i32) (local $counts i32) (local $start i32) (local $member i32)
    (local.set $nb (i32.mul (local.get $bh) (local.get $bw)))
    (local.set $P (i32.mul (local.get $channels) (local.get $nb)))
    (local.set $nk (i32.mul (local.get $channels) (i32.const 140)))
    (local.set $f (i32.shl (local.get $P) (i32.const 2)))
    (local.set $earlier (local.get $tmp))
    (local.set $rows (i32.add (local.get $earlier) (local.get $f)))
    (local.set $box (i32.add (local.get $rows) (local.get $f)))
    (local.set $values (i32.add (local.get $box) (local.get $f)))
    (local.set $cls (i32.add (local.get $values) (local.get $f)))
    (local.set $order (i32.add (local.get $cls) (local.get $f)))
    (local.set $pos (i32.add (local.get $order) (local.get $f)))
    (local.set $info (i32.add (local.get $pos) (local.get $f)))
    (local.set $esc (i32.add (local.get $info) (local.get $f)))
    (local.set $kk (i32.add (local.get $esc) (local.get $f)))
    (local.set $counts (i32.add (local.get $kk) (local.get $f)))
    (local.set $start (i32.add (local.get $counts) (i32.const 1700)))
    (local.set $member (i32.add (local.get $start) (i32.const 1700)))
    (loop $init (i32.store (i32.add (local.get $member) (i32.shl (local.get $k) (i32.const 2))) (i32.const -1))
      (br_if $init (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $nk))))
    (global.set $w (local.get $src))
    (global.set $wend (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (global.set $bad (i32.const 0))
    (global.set $d (i64.shl (call $word) (i64.const 32)))
    (global.set $d (i64.or (global.get $d) (call $word)))
    (global.set $r (i64.const -1))
    (if (i32.eqz (local.get $P)) (then (return (i32.const 0))))
    ;; the positions of the two passes (x + y even, then odd), info: channel 16 + which
    ;; neighbours exist (1 above, 2 below, 4 left, 8 right)
    (local.set $half (i32.mul (local.get $channels) (i32.shr_u (i32.add (local.get $nb) (i32.const 1)) (i32.const 1))))
    (local.set $i (i32.const 0)) (local.set $end (local.get $half))
    (loop $positions
      (local.set $c (i32.div_u (local.get $p) (local.get $nb)))
      (local.set $y (i32.div_u (i32.rem_u (local.get $p) (local.get $nb)) (local.get $bw)))
      (local.set $x (i32.rem_u (local.get $p) (local.get $bw)))
      (local.set $f (i32.or (i32.or (i32.gt_u (local.get $y) (i32.const 0)) (i32.shl (i32.lt_u (i32.add (local.get $y) (i32.const 1)) (local.get $bh)) (i32.const 1)))
        (i32.or (i32.shl (i32.gt_u (local.get $x) (i32.const 0)) (i32.const 2)) (i32.shl (i32.lt_u (i32.add (local.get $x) (i32.const 1)) (local.get $bw)) (i32.const 3)))))
      (local.set $k (select (local.get $end) (local.get $i) (i32.and (i32.add (local.get $x) (local.get $y)) (i32.const 1))))
      (i32.store (i32.add (local.get $pos) (i32.shl (local.get $k) (i32.const 2))) (local.get $p))
      (i32.store (i32.add (local.get $info) (i32.shl (local.get $k) (i32.const 2))) (i32.or (i32.shl (local.get $c) (i32.const 4)) (local.get $f)))
      (if (i32.and (i32.add (local.get $x) (local.get $y)) (i32.const 1))
        (then (local.set $end (i32.add (local.get $end) (i32.const 1))))
        (else (local.set $i (i32.add (local.get $i) (i32.const 1)))))
      (br_if $positions (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $P))))
    (loop $bands
      (local.set $g (i32.load offset=136 (i32.add (local.get $consts) (i32.shl (local.get $band) (i32.const 2)))))
      ;; box: the 3x3 sums of `earlier` (zero outside): along the rows, then the columns
      (local.set $p (i32.const 0))
      (loop $row
        (local.set $x (i32.const 0))
        (loop $sum3
          (local.set $t (i32.add (local.get $earlier) (i32.shl (local.get $p) (i32.const 2))))
          (i32.store (i32.add (local.get $rows) (i32.shl (local.get $p) (i32.const 2))) (i32.add (i32.load (local.get $t))
            (i32.add (select (i32.load (i32.sub (local.get $t) (i32.const 4))) (i32.const 0) (i32.gt_u (local.get $x) (i32.const 0)))
              (select (i32.load offset=4 (local.get $t)) (i32.const 0) (i32.lt_u (i32.add (local.get $x) (i32.const 1)) (local.get $bw))))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $sum3 (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 1))) (local.get $bw))))
        (br_if $row (i32.lt_u (local.get $p) (local.get $P))))
      (local.set $p (i32.const 0))
      (local.set $c (i32.const 0))
      (local.set $f (i32.shl (local.get $bw) (i32.const 2)))
      (loop $column
        (local.set $y (i32.rem_u (local.get $c) (local.get $bh)))
        (local.set $x (i32.const 0))
        (loop $sum3
          (local.set $t (i32.add (local.get $rows) (i32.shl (local.get $p) (i32.const 2))))
          (i32.store (i32.add (local.get $box) (i32.shl (local.get $p) (i32.const 2))) (i32.add (i32.load (local.get $t))
            (i32.add (select (i32.load (i32.sub (local.get $t) (local.get $f))) (i32.const 0) (i32.gt_u (local.get $y) (i32.const 0)))
              (select (i32.load (i32.add (local.get $t) (local.get $f))) (i32.const 0) (i32.lt_u (i32.add (local.get $y) (i32.const 1)) (local.get $bh))))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $sum3 (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 1))) (local.get $bw))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br_if $column (i32.lt_u (local.get $p) (local.get $P))))
      (local.set $pass (i32.const 0))
      (loop $passes
        (local.set $i (select (local.get $half) (i32.const 0) (local.get $pass)))
        (local.set $end (select (local.get $P) (local.get $half) (local.get $pass)))
        (memory.fill (local.get $counts) (i32.const 0) (i32.shl (i32.add (local.get $nk) (i32.const 1)) (i32.const 2)))
        ;; classes: the activity of the box and, in the second pass, of the 4 decoded neighbours
        (local.set $k (local.get $i))
        (block $none (loop $class
          (br_if $none (i32.ge_u (local.get $k) (local.get $end)))
          (local.set $p (i32.load (i32.add (local.get $pos) (i32.shl (local.get $k) (i32.const 2)))))
          (local.set $f (i32.load (i32.add (local.get $info) (i32.shl (local.get $k) (i32.const 2)))))
          (local.set $total (i32.load (i32.add (local.get $box) (i32.shl (local.get $p) (i32.const 2)))))
          (if (local.get $pass)
            (then
              (local.set $t (i32.add (local.get $values) (i32.shl (local.get $p) (i32.const 2))))
              (local.set $v (i32.shl (local.get $bw) (i32.const 2)))
              (local.set $total (i32.add (local.get $total) (i32.shl (i32.add
                (i32.add (select (call $abs (i32.load (i32.sub (local.get $t) (local.get $v)))) (i32.const 0) (i32.and (local.get $f) (i32.const 1)))
                  (select (call $abs (i32.load (i32.add (local.get $t) (local.get $v)))) (i32.const 0) (i32.and (local.get $f) (i32.const 2))))
                (i32.add (select (call $abs (i32.load (i32.sub (local.get $t) (i32.const 4)))) (i32.const 0) (i32.and (local.get $f) (i32.const 4)))
                  (select (call $abs (i32.load offset=4 (local.get $t))) (i32.const 0) (i32.and (local.get $f) (i32.const 8))))) (i32.const 2))))))
          (local.set $v (select (i32.sub (i32.const 32) (i32.clz (local.get $total))) (i32.const 0) (i32.gt_s (local.get $total) (i32.const 0))))
          (if (i32.gt_u (local.get $v) (i32.const 9)) (then (local.set $v (i32.const 9))))
          (local.set $v (i32.add (i32.mul (i32.add (i32.mul (i32.shr_u (local.get $f) (i32.const 4)) (i32.const 14)) (local.get $g)) (i32.const 10)) (local.get $v)))
          (i32.store (i32.add (local.get $cls) (i32.shl (local.get $p) (i32.const 2))) (local.get $v))
          (local.set $t (i32.add (local.get $counts) (i32.shl (i32.add (local.get $v) (i32.const 1)) (i32.const 2))))
          (i32.store (local.get $t) (i32.add (i32.load (local.get $t)) (i32.const 1)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $class)))
        ;; counts -> starts; the positions by class (stable)
        (local.set $k (i32.const 1))
        (loop $prefix
          (local.set $t (i32.add (local.get $counts) (i32.shl (local.get $k) (i32.const 2))))
          (i32.store (local.get $t) (i32.add (i32.load (local.get $t)) (i32.load (i32.sub (local.get $t) (i32.const 4)))))
          (br_if $prefix (i32.le_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $nk))))
        (memory.copy (local.get $start) (local.get $counts) (i32.shl (i32.add (local.get $nk) (i32.const 1)) (i32.const 2)))
        (local.set $k (local.get $i))
        (block $none (loop $sort
          (br_if $none (i32.ge_u (local.get $k) (local.get $end)))
          (local.set $p (i32.load (i32.add (local.get $pos) (i32.shl (local.get $k) (i32.const 2)))))
          (local.set $t (i32.add (local.get $start) (i32.shl (i32.load (i32.add (local.get $cls) (i32.shl (local.get $p) (i32.const 2)))) (i32.const 2))))
          (i32.store (i32.add (local.get $order) (i32.shl (i32.load (local.get $t)) (i32.const 2))) (local.get $p))
          (i32.store (local.get $t) (i32.add (i32.load (local.get $t)) (i32.const 1)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $sort)))
        ;; each class with positions: its member (chosen at its first use), its values
        (local.set $k (i32.const 0))
        (loop $classes
          (local.set $i (i32.load (i32.add (local.get $counts) (i32.shl (local.get $k) (i32.const 2)))))
          (local.set $end (i32.load offset=4 (i32.add (local.get $counts) (i32.shl (local.get $k) (i32.const 2)))))
          (if (i32.lt_u (local.get $i) (local.get $end))
            (then
              (local.set $t (i32.add (local.get $member) (i32.shl (local.get $k) (i32.const 2))))
              (if (i32.lt_s (i32.load (local.get $t)) (i32.const 0))
                (then (i32.store (local.get $t) (if (result i32) (i32.eq (call $decode (local.get $consts) (i32.const 2)) (i32.const 1))
                  (then (i32.const 1008))
                  (else (i32.add (i32.shl (call $uniform (i32.const 64)) (i32.const 4)) (call $decode (i32.add (local.get $consts) (i32.const 12)) (i32.const 16))))))))
              (local.set $v (i32.load (local.get $t)))
              (local.set $t (i32.add (local.get $tables) (i32.shl (local.get $v) (i32.const 7))))
              (if (i32.eqz (i32.load offset=124 (local.get $t))) (then (call $member (local.get $v) (local.get $t) (local.get $consts))))
              (loop $values
                (i32.store (i32.add (local.get $values) (i32.shl (i32.load (i32.add (local.get $order) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2)))
                  (i32.sub (call $decode (local.get $t) (i32.const 31)) (i32.const 15)))
                (br_if $values (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $end))))))
          (br_if $classes (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $nk))))
        (br_if $passes (i32.lt_u (local.tee $pass (i32.add (local.get $pass) (i32.const 1))) (i32.const 2))))
      ;; escapes (|value| 15): the excess, Exp-Golomb (FORMAT.md 5.4): all prefixes, then the
      ;; suffixes by length
      (local.set $ne (i32.const 0))
      (local.set $p (i32.const 0))
      (loop $find
        (if (i32.eq (call $abs (i32.load (i32.add (local.get $values) (i32.shl (local.get $p) (i32.const 2))))) (i32.const 15))
          (then
            (i32.store (i32.add (local.get $esc) (i32.shl (local.get $ne) (i32.const 2))) (local.get $p))
            (local.set $ne (i32.add (local.get $ne) (i32.const 1)))))
        (br_if $find (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $P))))
      (if (local.get $ne)
        (then
          (local.set $i (i32.const 0))
          (loop $prefixes
            (local.set $t (i32.shl (local.get $i) (i32.const 2)))
            (local.set $k (call $decode (i32.add (local.get $consts) (i32.const 80)) (i32.const 13)))
            (i32.store (i32.add (local.get $kk) (local.get $t)) (local.get $k))
            (i32.store (i32.add (local.get $rows) (local.get $t)) (i32.shl (i32.const 1) (local.get $k)))
            (br_if $prefixes (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $ne))))
          (local.set $bits (i32.const 1))
          (loop $lengths
            (local.set $i (i32.const 0))
            (loop $suffixes
              (local.set $t (i32.shl (local.get $i) (i32.const 2)))
              (if (i32.eq (i32.load (i32.add (local.get $kk) (local.get $t))) (local.get $bits))
                (then (i32.store (i32.add (local.get $rows) (local.get $t)) (i32.add (i32.load (i32.add (local.get $rows) (local.get $t)))
                  (call $uniform (i32.shl (i32.const 1) (local.get $bits)))))))
              (br_if $suffixes (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $ne))))
            (br_if $lengths (i32.le_u (local.tee $bits (i32.add (local.get $bits) (i32.const 1))) (i32.const 12))))
          (local.set $i (i32.const 0))
          (loop $add
            (local.set $t (i32.shl (local.get $i) (i32.const 2)))
            (local.set $p (i32.add (local.get $values) (i32.shl (i32.load (i32.add (local.get $esc) (local.get $t))) (i32.const 2))))
            (local.set $v (i32.sub (i32.load (i32.add (local.get $rows) (local.get $t))) (i32.const 1)))
            (i32.store (local.get $p) (i32.add (i32.load (local.get $p))
              (select (i32.sub (i32.const 0) (local.get $v)) (local.get $v) (i32.lt_s (i32.load (local.get $p)) (i32.const 0)))))
            (br_if $add (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $ne))))))
      ;; the band's coefficients; earlier += min(|value|, 15)
      (local.set $p (i32.const 0))
      (loop $store
        (local.set $v (i32.load (i32.add (local.get $values) (i32.shl (local.get $p) (i32.const 2)))))
        (i32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.shl (local.get $p) (i32.const 6)) (local.get $band)) (i32.const 2))) (local.get $v))
        (local.set $t (i32.add (local.get $earlier) (i32.shl (local.get $p) (i32.const 2))))
        (local.set $v (call $abs (local.get $v)))
        (i32.store (local.get $t) (i32.add (i32.load (local.get $t)) (select (local.get $v) (i32.const 15) (i32.lt_u (local.get $v) (i32.const 15)))))
        (br_if $store (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $P))))
      (br_if $bands (i32.lt_u (local.tee $band (i32.add (local.get $band) (i32.const 1))) (i32.const 64))))
    (global.get $bad))

  ;; A 3x3 convolution of code vectors by tables: x (zero-bordered, rows of w + 2 pixels of c
  ;; floats, c a multiple of 4; pixel (0, 0) at $x) += T[tap][the code at the tap], the codes
  ;; (h + 2) rows of w + 2 (the border: code K, a zero row of T), T: 9 taps x (K + 1) codes x c.
  (func (export "taps") (param $x i32) (param $codes i32) (param $T i32) (param $h i32) (param $w i32) (param $c i32) (param $K i32)
    (local $j i32) (local $e i32) (local $cb i32) (local $tap i32) (local $row i32) (local $v v128)
    (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $s4 i32) (local $s5 i32) (local $s6 i32) (local $s7 i32) (local $s8 i32)
    (if (i32.or (i32.eqz (local.get $h)) (i32.eqz (local.get $w))) (then (return)))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $tap (i32.mul (i32.add (local.get $K) (i32.const 1)) (local.get $cb)))   ;; bytes per tap
    (local.set $row (i32.shl (i32.add (local.get $w) (i32.const 2)) (i32.const 2)))     ;; bytes per row of codes
    (loop $rows
      (local.set $j (local.get $w))
      (loop $pixels
        (local.set $s0 (i32.add (local.get $T) (i32.mul (i32.load offset=0 (local.get $codes)) (local.get $cb))))
        (local.set $s1 (i32.add (i32.add (local.get $T) (local.get $tap)) (i32.mul (i32.load offset=4 (local.get $codes)) (local.get $cb))))
        (local.set $s2 (i32.add (i32.add (local.get $T) (i32.mul (local.get $tap) (i32.const 2))) (i32.mul (i32.load offset=8 (local.get $codes)) (local.get $cb))))
        (local.set $s3 (i32.add (i32.add (local.get $T) (i32.mul (local.get $tap) (i32.const 3))) (i32.mul (i32.load (i32.add (local.get $codes) (local.get $row))) (local.get $cb))))
        (local.set $s4 (i32.add (i32.add (local.get $T) (i32.mul (local.get $tap) (i32.const 4))) (i32.mul (i32.load offset=4 (i32.add (local.get $codes) (local.get $row))) (local.get $cb))))
        (local.set $s5 (i32.add (i32.add (local.get $T) (i32.mul (local.get $tap) (i32.const 5))) (i32.mul (i32.load offset=8 (i32.add (local.get $codes) (local.get $row))) (local.get $cb))))
        (local.set $s6 (i32.add (i32.add (local.get $T) (i32.mul (local.get $tap) (i32.const 6))) (i32.mul (i32.load (i32.add (local.get $codes) (i32.shl (local.get $row) (i32.const 1)))) (local.get $cb))))
        (local.set $s7 (i32.add (i32.add (local.get $T) (i32.mul (local.get $tap) (i32.const 7))) (i32.mul (i32.load offset=4 (i32.add (local.get $codes) (i32.shl (local.get $row) (i32.const 1)))) (local.get $cb))))
        (local.set $s8 (i32.add (i32.add (local.get $T) (i32.mul (local.get $tap) (i32.const 8))) (i32.mul (i32.load offset=8 (i32.add (local.get $codes) (i32.shl (local.get $row) (i32.const 1)))) (local.get $cb))))
        (local.set $e (i32.const 0))
        (loop $channels
          (local.set $v (f32x4.add (v128.load (i32.add (local.get $x) (local.get $e))) (v128.load (i32.add (local.get $s0) (local.get $e)))))
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $s1) (local.get $e)))))
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $s2) (local.get $e)))))
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $s3) (local.get $e)))))
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $s4) (local.get $e)))))
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $s5) (local.get $e)))))
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $s6) (local.get $e)))))
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $s7) (local.get $e)))))
          (local.set $v (f32x4.add (local.get $v) (v128.load (i32.add (local.get $s8) (local.get $e)))))
          (v128.store (i32.add (local.get $x) (local.get $e)) (local.get $v))
          (br_if $channels (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 16))) (local.get $cb))))
        (local.set $x (i32.add (local.get $x) (local.get $cb)))
        (local.set $codes (i32.add (local.get $codes) (i32.const 4)))
        (br_if $pixels (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
      (local.set $x (i32.add (local.get $x) (i32.shl (local.get $cb) (i32.const 1))))
      (local.set $codes (i32.add (local.get $codes) (i32.const 8)))
      (br_if $rows (local.tee $h (i32.sub (local.get $h) (i32.const 1))))))

  ;; ---- 3x3 convolutions by Winograd F(2x2, 3x3) (Lavin and Gray 2015): a 4x4 input patch d
  ;; per 2x2 output tile, V = B' d B, 16 products of V (tiles x c) and U = G g G' (c x co), the
  ;; outputs A' M A. Channels 4 at a time (c a multiple of 4). ----

  ;; V (16 matrices of n rows of c floats) of the n tiles from tile row ty0 (tw tiles a row) of
  ;; x: zero-bordered, rows of wp pixels of c floats; tile (ty, tx) reads the 4x4 pixels from
  ;; (2 ty, 2 tx). $tmp: 16 vectors of scratch.
  (func (export "wino_in") (param $x i32) (param $wp i32) (param $c i32) (param $ty0 i32) (param $tw i32) (param $n i32) (param $V i32) (param $tmp i32)
    (local $t i32) (local $e i32) (local $cb i32) (local $base i32) (local $p i32) (local $k i32) (local $stride i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $d v128)
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $n) (local.get $cb)))     ;; between the 16 matrices
    (loop $tiles
      (local.set $base (i32.add (local.get $x) (i32.mul (i32.add (i32.mul (i32.shl (i32.add (local.get $ty0) (i32.div_u (local.get $t) (local.get $tw))) (i32.const 1)) (local.get $wp))
        (i32.shl (i32.rem_u (local.get $t) (local.get $tw)) (i32.const 1))) (local.get $cb))))
      (local.set $e (i32.const 0))
      (loop $channels
        ;; columns k of the patch: the rows' combinations d0 - d2, d1 + d2, d2 - d1, d1 - d3 into tmp (row-major 4x4)
        (local.set $k (i32.const 0))
        (loop $columns
          (local.set $p (i32.add (i32.add (local.get $base) (local.get $e)) (i32.mul (local.get $k) (local.get $cb))))
          (local.set $a (v128.load (local.get $p)))
          (local.set $b (v128.load (local.tee $p (i32.add (local.get $p) (i32.mul (local.get $wp) (local.get $cb))))))
          (local.set $cc (v128.load (local.tee $p (i32.add (local.get $p) (i32.mul (local.get $wp) (local.get $cb))))))
          (local.set $d (v128.load (i32.add (local.get $p) (i32.mul (local.get $wp) (local.get $cb)))))
          (local.set $p (i32.add (local.get $tmp) (i32.shl (local.get $k) (i32.const 4))))
          (v128.store offset=0 (local.get $p) (f32x4.sub (local.get $a) (local.get $cc)))
          (v128.store offset=64 (local.get $p) (f32x4.add (local.get $b) (local.get $cc)))
          (v128.store offset=128 (local.get $p) (f32x4.sub (local.get $cc) (local.get $b)))
          (v128.store offset=192 (local.get $p) (f32x4.sub (local.get $b) (local.get $d)))
          (br_if $columns (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 4))))
        ;; rows k of tmp: the same along the row, into V[4 k + 0..3]
        (local.set $k (i32.const 0))
        (loop $rows
          (local.set $p (i32.add (local.get $tmp) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $a (v128.load offset=0 (local.get $p)))
          (local.set $b (v128.load offset=16 (local.get $p)))
          (local.set $cc (v128.load offset=32 (local.get $p)))
          (local.set $d (v128.load offset=48 (local.get $p)))
          (local.set $p (i32.add (i32.add (local.get $V) (i32.mul (i32.shl (local.get $k) (i32.const 2)) (local.get $stride)))
            (i32.add (i32.mul (local.get $t) (local.get $cb)) (local.get $e))))
          (v128.store (local.get $p) (f32x4.sub (local.get $a) (local.get $cc)))
          (v128.store (local.tee $p (i32.add (local.get $p) (local.get $stride))) (f32x4.add (local.get $b) (local.get $cc)))
          (v128.store (local.tee $p (i32.add (local.get $p) (local.get $stride))) (f32x4.sub (local.get $cc) (local.get $b)))
          (v128.store (i32.add (local.get $p) (local.get $stride)) (f32x4.sub (local.get $b) (local.get $d)))
          (br_if $rows (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 4))))
        (br_if $channels (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 16))) (local.get $cb))))
      (br_if $tiles (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $n)))))

  ;; The outputs of the n tiles from tile row ty0 (tw a row): A' M A (M: 16 matrices of n rows
  ;; of c floats) + bias, stored through a ReLU where flags & 2, into y (zero-bordered, rows of
  ;; wp pixels of c floats; pixel (i, j) at ((i + 1) wp + j + 1) c) where i < h and j < w.
  (func (export "wino_out") (param $M i32) (param $c i32) (param $ty0 i32) (param $tw i32) (param $n i32) (param $y i32) (param $wp i32)
    (param $h i32) (param $w i32) (param $bias i32) (param $flags i32) (param $tmp i32)
    (local $t i32) (local $e i32) (local $cb i32) (local $p i32) (local $k i32) (local $stride i32) (local $i i32) (local $j i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $d v128) (local $lo v128)
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $n) (local.get $cb)))
    (local.set $lo (select (v128.const f32x4 0 0 0 0) (v128.const f32x4 -inf -inf -inf -inf) (i32.and (local.get $flags) (i32.const 2))))
    (loop $tiles
      (local.set $i (i32.shl (i32.add (local.get $ty0) (i32.div_u (local.get $t) (local.get $tw))) (i32.const 1)))
      (local.set $j (i32.shl (i32.rem_u (local.get $t) (local.get $tw)) (i32.const 1)))
      (local.set $e (i32.const 0))
      (loop $channels
        ;; columns k: m0 + m1 + m2, m1 - m2 - m3 along the first index, into tmp rows 0 and 1
        (local.set $k (i32.const 0))
        (loop $columns
          (local.set $p (i32.add (i32.add (local.get $M) (i32.mul (local.get $k) (local.get $stride))) (i32.add (i32.mul (local.get $t) (local.get $cb)) (local.get $e))))
          (local.set $a (v128.load (local.get $p)))
          (local.set $b (v128.load (local.tee $p (i32.add (local.get $p) (i32.shl (local.get $stride) (i32.const 2))))))
          (local.set $cc (v128.load (local.tee $p (i32.add (local.get $p) (i32.shl (local.get $stride) (i32.const 2))))))
          (local.set $d (v128.load (i32.add (local.get $p) (i32.shl (local.get $stride) (i32.const 2)))))
          (local.set $p (i32.add (local.get $tmp) (i32.shl (local.get $k) (i32.const 4))))
          (v128.store offset=0 (local.get $p) (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (local.get $cc)))
          (v128.store offset=64 (local.get $p) (f32x4.sub (f32x4.sub (local.get $b) (local.get $cc)) (local.get $d)))
          (br_if $columns (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 4))))
        ;; rows k = 0, 1 of tmp: the same along the row: output pixels (i + k, j), (i + k, j + 1)
        (local.set $k (i32.const 0))
        (loop $rows
          (local.set $p (i32.add (local.get $tmp) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $a (v128.load offset=0 (local.get $p)))
          (local.set $b (v128.load offset=16 (local.get $p)))
          (local.set $cc (v128.load offset=32 (local.get $p)))
          (local.set $d (v128.load offset=48 (local.get $p)))
          (local.set $a (f32x4.pmax (f32x4.add (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (local.get $cc)) (v128.load (i32.add (local.get $bias) (local.get $e)))) (local.get $lo)))
          (local.set $b (f32x4.pmax (f32x4.add (f32x4.sub (f32x4.sub (local.get $b) (local.get $cc)) (local.get $d)) (v128.load (i32.add (local.get $bias) (local.get $e)))) (local.get $lo)))
          (local.set $p (i32.add (i32.add (local.get $y) (local.get $e)) (i32.mul (i32.add (i32.mul (i32.add (i32.add (local.get $i) (local.get $k)) (i32.const 1)) (local.get $wp)) (i32.add (local.get $j) (i32.const 1))) (local.get $cb))))
          (if (i32.lt_u (i32.add (local.get $i) (local.get $k)) (local.get $h))
            (then
              (v128.store (local.get $p) (local.get $a))
              (if (i32.lt_u (i32.add (local.get $j) (i32.const 1)) (local.get $w)) (then (v128.store (i32.add (local.get $p) (local.get $cb)) (local.get $b))))))
          (br_if $rows (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 2))))
        (br_if $channels (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 16))) (local.get $cb))))
      (br_if $tiles (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $n)))))

  ;; ---- ConvTranspose2d 4x4 stride 2 (kernels.js convTPhases) by Winograd F(2x2, 2x2) per output
  ;; phase (py, px): out(2m + py, 2n + px) = sum over a, b of x(m + a + py, n + b + px) w(a, b)
  ;; (x zero-bordered), per 2x2 tile of (m, n) a 3x3 patch, 9 products; V = B' d B with
  ;; B' = [1 -1 0; 0 1 0; 0 -1 1], outputs A' M A with A' = [1 1 0; 0 1 1]. ----

  ;; V (36 matrices of n rows of c floats: phase 9 + 3 i + j) of the n tiles from tile row ty0
  ;; (tw a row); tile (ty, tx) reads the 4x4 pixels from (2 ty, 2 tx), phase (py, px) the 3x3
  ;; from (2 ty + py, 2 tx + px). $tmp: 32 vectors of scratch.
  (func (export "wino2_in") (param $x i32) (param $wp i32) (param $c i32) (param $ty0 i32) (param $tw i32) (param $n i32) (param $V i32) (param $tmp i32)
    (local $t i32) (local $e i32) (local $cb i32) (local $base i32) (local $p i32) (local $k i32) (local $ph i32) (local $stride i32)
    (local $a v128) (local $b v128) (local $cc v128)
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $n) (local.get $cb)))
    (loop $tiles
      (local.set $base (i32.add (local.get $x) (i32.mul (i32.add (i32.mul (i32.shl (i32.add (local.get $ty0) (i32.div_u (local.get $t) (local.get $tw))) (i32.const 1)) (local.get $wp))
        (i32.shl (i32.rem_u (local.get $t) (local.get $tw)) (i32.const 1))) (local.get $cb))))
      (local.set $e (i32.const 0))
      (loop $channels
        ;; the 4x4 patch into tmp (row-major)
        (local.set $k (i32.const 0))
        (loop $load
          (v128.store (i32.add (local.get $tmp) (i32.shl (local.get $k) (i32.const 4)))
            (v128.load (i32.add (i32.add (local.get $base) (local.get $e))
              (i32.mul (i32.add (i32.mul (i32.shr_u (local.get $k) (i32.const 2)) (local.get $wp)) (i32.and (local.get $k) (i32.const 3))) (local.get $cb)))))
          (br_if $load (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 16))))
        (local.set $ph (i32.const 0))
        (loop $phases
          ;; columns k of the phase's 3x3: d0 - d1, d1, d2 - d1 down the column, into tmp + 256 (3x3)
          (local.set $k (i32.const 0))
          (loop $columns
            (local.set $p (i32.add (local.get $tmp) (i32.shl (i32.add (i32.add (i32.shl (i32.shr_u (local.get $ph) (i32.const 1)) (i32.const 2)) (i32.and (local.get $ph) (i32.const 1))) (local.get $k)) (i32.const 4))))
            (local.set $a (v128.load offset=0 (local.get $p)))
            (local.set $b (v128.load offset=64 (local.get $p)))
            (local.set $cc (v128.load offset=128 (local.get $p)))
            (local.set $p (i32.add (local.get $tmp) (i32.shl (local.get $k) (i32.const 4))))
            (v128.store offset=256 (local.get $p) (f32x4.sub (local.get $a) (local.get $b)))
            (v128.store offset=304 (local.get $p) (local.get $b))
            (v128.store offset=352 (local.get $p) (f32x4.sub (local.get $cc) (local.get $b)))
            (br_if $columns (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 3))))
          ;; rows k: the same along the row, into V[9 ph + 3 k + 0..2]
          (local.set $k (i32.const 0))
          (loop $rows
            (local.set $p (i32.add (local.get $tmp) (i32.mul (local.get $k) (i32.const 48))))
            (local.set $a (v128.load offset=256 (local.get $p)))
            (local.set $b (v128.load offset=272 (local.get $p)))
            (local.set $cc (v128.load offset=288 (local.get $p)))
            (local.set $p (i32.add (i32.add (local.get $V) (i32.mul (i32.add (i32.mul (local.get $ph) (i32.const 9)) (i32.mul (local.get $k) (i32.const 3))) (local.get $stride)))
              (i32.add (i32.mul (local.get $t) (local.get $cb)) (local.get $e))))
            (v128.store (local.get $p) (f32x4.sub (local.get $a) (local.get $b)))
            (v128.store (local.tee $p (i32.add (local.get $p) (local.get $stride))) (local.get $b))
            (v128.store (i32.add (local.get $p) (local.get $stride)) (f32x4.sub (local.get $cc) (local.get $b)))
            (br_if $rows (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 3))))
          (br_if $phases (i32.lt_u (local.tee $ph (i32.add (local.get $ph) (i32.const 1))) (i32.const 4))))
        (br_if $channels (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 16))) (local.get $cb))))
      (br_if $tiles (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $n)))))

  ;; The outputs of the n tiles from tile row ty0 (tw a row): per phase A' M A (M: 36 matrices
  ;; of n rows of c floats) + bias, through a ReLU where flags & 2, into y (zero-bordered, rows of
  ;; wp pixels of c floats): tile (ty, tx) phase (py, px) output (a, b) at pixel
  ;; (4 ty + 2 a + py, 4 tx + 2 b + px), where it is below h and w.
  (func (export "wino2_out") (param $M i32) (param $c i32) (param $ty0 i32) (param $tw i32) (param $n i32) (param $y i32) (param $wp i32)
    (param $h i32) (param $w i32) (param $bias i32) (param $flags i32) (param $tmp i32)
    (local $t i32) (local $e i32) (local $cb i32) (local $p i32) (local $k i32) (local $ph i32) (local $stride i32) (local $i i32) (local $j i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $lo v128)
    (if (i32.eqz (local.get $n)) (then (return)))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $stride (i32.mul (local.get $n) (local.get $cb)))
    (local.set $lo (select (v128.const f32x4 0 0 0 0) (v128.const f32x4 -inf -inf -inf -inf) (i32.and (local.get $flags) (i32.const 2))))
    (loop $tiles
      (local.set $e (i32.const 0))
      (loop $channels
        (local.set $ph (i32.const 0))
        (loop $phases
          ;; columns k: m0 + m1, m1 + m2 along the first index, into tmp rows 0 and 1
          (local.set $k (i32.const 0))
          (loop $columns
            (local.set $p (i32.add (i32.add (local.get $M) (i32.mul (i32.add (i32.mul (local.get $ph) (i32.const 9)) (local.get $k)) (local.get $stride)))
              (i32.add (i32.mul (local.get $t) (local.get $cb)) (local.get $e))))
            (local.set $a (v128.load (local.get $p)))
            (local.set $b (v128.load (local.tee $p (i32.add (local.get $p) (i32.mul (local.get $stride) (i32.const 3))))))
            (local.set $cc (v128.load (i32.add (local.get $p) (i32.mul (local.get $stride) (i32.const 3)))))
            (local.set $p (i32.add (local.get $tmp) (i32.shl (local.get $k) (i32.const 4))))
            (v128.store offset=0 (local.get $p) (f32x4.add (local.get $a) (local.get $b)))
            (v128.store offset=48 (local.get $p) (f32x4.add (local.get $b) (local.get $cc)))
            (br_if $columns (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 3))))
          ;; rows k = 0, 1: output rows 4 ty + 2 k + py, columns 4 tx + px and 4 tx + 2 + px
          (local.set $k (i32.const 0))
          (loop $rows
            (local.set $p (i32.add (local.get $tmp) (i32.mul (local.get $k) (i32.const 48))))
            (local.set $a (v128.load offset=0 (local.get $p)))
            (local.set $b (v128.load offset=16 (local.get $p)))
            (local.set $cc (v128.load offset=32 (local.get $p)))
            (local.set $a (f32x4.pmax (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (v128.load (i32.add (local.get $bias) (local.get $e)))) (local.get $lo)))
            (local.set $b (f32x4.pmax (f32x4.add (f32x4.add (local.get $b) (local.get $cc)) (v128.load (i32.add (local.get $bias) (local.get $e)))) (local.get $lo)))
            (local.set $i (i32.add (i32.add (i32.shl (i32.add (local.get $ty0) (i32.div_u (local.get $t) (local.get $tw))) (i32.const 2)) (i32.shl (local.get $k) (i32.const 1))) (i32.shr_u (local.get $ph) (i32.const 1))))
            (local.set $j (i32.add (i32.shl (i32.rem_u (local.get $t) (local.get $tw)) (i32.const 2)) (i32.and (local.get $ph) (i32.const 1))))
            (local.set $p (i32.add (i32.add (local.get $y) (local.get $e)) (i32.mul (i32.add (i32.mul (i32.add (local.get $i) (i32.const 1)) (local.get $wp)) (i32.add (local.get $j) (i32.const 1))) (local.get $cb))))
            (if (i32.lt_u (local.get $i) (local.get $h))
              (then
                (if (i32.lt_u (local.get $j) (local.get $w)) (then (v128.store (local.get $p) (local.get $a))))
                (if (i32.lt_u (i32.add (local.get $j) (i32.const 2)) (local.get $w)) (then (v128.store (i32.add (local.get $p) (i32.shl (local.get $cb) (i32.const 1))) (local.get $b))))))
            (br_if $rows (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 2))))
          (br_if $phases (i32.lt_u (local.tee $ph (i32.add (local.get $ph) (i32.const 1))) (i32.const 4))))
        (br_if $channels (i32.lt_u (local.tee $e (i32.add (local.get $e) (i32.const 16))) (local.get $cb))))
      (br_if $tiles (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $n)))))
)
