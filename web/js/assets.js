// Model assets: the index written by vqcodec/web_export.py and safetensors files.

import { VqzError } from './container.js';

// Parse a safetensors file into {name: {dtype, shape, data}} (I8 -> Int8Array, I64 -> Float64Array
// of exact small integers, F32 -> Float32Array).
export function readSafetensors(buffer) {
  const dv = new DataView(buffer);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, n)));
  const base = 8 + n, out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets;
    const bytes = new Uint8Array(buffer, base + a, b - a).slice();
    let data;
    if (t.dtype === 'I8') data = new Int8Array(bytes.buffer);
    else if (t.dtype === 'F32') data = new Float32Array(bytes.buffer);
    else if (t.dtype === 'I64') data = Float64Array.from(new BigInt64Array(bytes.buffer), Number);
    else continue;
    out[name] = { dtype: t.dtype, shape: t.shape, data };
  }
  return out;
}

async function sha256hex(buffer) {
  if (!globalThis.crypto?.subtle) return null;  // not a secure context: no check possible
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
  return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class Assets {
  constructor(baseUrl, fetcher = (url) => fetch(url)) {
    this.base = baseUrl; this.fetcher = fetcher; this.index = null; this.cache = new Map();
  }

  async fetchBuffer(path, sha) {
    const r = await this.fetcher(new URL(path, this.base));
    if (!r.ok) throw new VqzError(`cannot load model asset ${path} (HTTP ${r.status})`);
    const buf = await r.arrayBuffer();
    if (sha) {
      const got = await sha256hex(buf);
      if (got !== null && got !== sha) throw new VqzError(`model asset ${path} is damaged (sha256 mismatch)`);
    }
    return buf;
  }

  async loadIndex() {
    if (!this.index) this.index = JSON.parse(new TextDecoder().decode(await this.fetchBuffer('models/index.json')));
    return this.index;
  }

  async model(id) {
    const index = await this.loadIndex(), entry = index.models.find((m) => m.id === id);
    if (!entry) {
      const retired = index.retired.find((m) => m.id === id);
      throw new VqzError(retired ? `model ${id} (${retired.name}) is retired and not shipped with this page` : `unknown model id ${id}`);
    }
    return entry;
  }

  // A layer's network named by a file's record (FORMAT.md 10.1): its index entry.
  async network(id, kind) {
    const entry = ((await this.loadIndex()).networks || []).find((n) => n.id === id && n.kind === kind);
    if (!entry) throw new VqzError(`the file needs ${kind} network ${id}, which this page does not have`);
    return entry;
  }

  // One of a model's files ('config', 'prior' or 'synthesis') or a network's ('weights'),
  // parsed, cached.
  async load(entry, what) {
    const f = entry.files[what], path = `models/${entry.folder || entry.name}/${f.path}`;
    if (!this.cache.has(path)) {
      const parse = what === 'config' ? (b) => JSON.parse(new TextDecoder().decode(b)) : readSafetensors;
      this.cache.set(path, this.fetchBuffer(path, f.sha256).then(parse));
    }
    return this.cache.get(path);
  }
}
