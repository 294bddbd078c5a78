// Rebuilds web/js/gemm.wasm.js from web/js/gemm.wat (only needed after editing the .wat):
//   npm install --prefix /tmp/wabt wabt@1.0.36 && NODE_PATH=/tmp/wabt/node_modules node web/build_wasm.mjs
// Two builds: plain SIMD, and one whose float kernel fuses multiply-add (relaxed SIMD,
// f32x4.relaxed_madd; Chrome 114+), used where the browser validates it.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wabt = await require('wabt')();
const dir = new URL('./js/', import.meta.url);
const wat = readFileSync(new URL('gemm.wat', dir), 'utf8');
const fused = wat.replace(/\(f32x4\.add \(local\.get (\$\w+)\) \(f32x4\.mul \(local\.get (\$\w+)\) \(local\.get (\$\w+)\)\)\)/g,
  '(f32x4.relaxed_madd (local.get $2) (local.get $3) (local.get $1))');
const build = (text, features) => {
  const mod = wabt.parseWat('gemm.wat', text, features);
  mod.validate();
  return Buffer.from(mod.toBinary({}).buffer);
};
const plain = build(wat, { simd: true }), relaxed = build(fused, { simd: true, relaxed_simd: true });
writeFileSync(new URL('gemm.wasm.js', dir),
  '// Generated from gemm.wat by web/build_wasm.mjs: do not edit.\n' +
  `export const GEMM_WASM = '${plain.toString('base64')}';\n` +
  `export const GEMM_WASM_RELAXED = '${relaxed.toString('base64')}';\n`);
console.log(`gemm.wasm: ${plain.length} bytes, relaxed: ${relaxed.length} bytes (${(fused.match(/relaxed_madd/g) || []).length} fused)`);
