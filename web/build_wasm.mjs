// Rebuilds web/js/gemm.wasm.js from web/js/gemm.ts (AssemblyScript; only needed after editing it):
//   npm install --prefix /tmp/asc assemblyscript@0.28.20 && node web/build_wasm.mjs /tmp/asc
// Two builds: plain SIMD, and one whose float products fuse multiply-add (relaxed SIMD,
// f32x4.relaxed_madd; Chrome 114+), used where the browser validates it.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const { default: asc } = await import(pathToFileURL(`${process.argv[2]}/node_modules/assemblyscript/dist/asc.js`));
const dir = new URL('./js/', import.meta.url);
async function build(fused) {
  const out = {};
  const { error, stderr } = await asc.main([
    'gemm.ts', '--outFile', 'gemm.wasm', '-O3', '--noAssert', '--runtime', 'stub', '--initialMemory', '256', '--maximumMemory', '32768',
    '--enable', fused ? 'simd,relaxed-simd' : 'simd', '--use', `FUSED=${fused ? 1 : 0}`, '--baseDir', dir.pathname,
  ], { writeFile: (name, contents) => { out[name] = contents; } });
  if (error) throw new Error(`${error.message}\n${stderr.toString()}`);
  return Buffer.from(out['gemm.wasm']);
}
const plain = await build(false), fused = await build(true);
writeFileSync(new URL('gemm.wasm.js', dir),
  '// Generated from gemm.ts by web/build_wasm.mjs: do not edit.\n' +
  `export const GEMM_WASM = '${plain.toString('base64')}';\n` +
  `export const GEMM_WASM_RELAXED = '${fused.toString('base64')}';\n`);
console.log(`gemm.wasm: ${plain.length} bytes, relaxed: ${fused.length} bytes`);
