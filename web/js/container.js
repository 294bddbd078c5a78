// The .vqz container: header parse, layer records and the checks of docs/FORMAT.md section 2.

export class VqzError extends Error {}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

// CRC-32 (zlib); `crc` continues a running value (start: 0).
export function crc32(bytes, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const LIMITS = { side: 16384, pixels: 1 << 24, minTile: 4, maxTile: 128, maxMaps: 8, streams: 1 << 17, stripes: 64, layers: 8, layerStreams: 64 };

// The layers above the code maps (FORMAT.md 2.2), by record id, in the order they run.
export const REFINEMENT = 1, NETWORK = 2, FILTER = 3;
const LAYER_NAMES = { [REFINEMENT]: 'refinement', [NETWORK]: 'restoration network', [FILTER]: 'restoration filter' };

class Cursor {
  constructor(bytes) { this.b = bytes; this.pos = 0; }
  take(n) {
    if (this.pos + n > this.b.length) throw new VqzError('truncated file (header)');
    this.pos += n;
    return this.b.subarray(this.pos - n, this.pos);
  }
  u8() { return this.take(1)[0]; }
  u16() { const b = this.take(2); return b[0] | (b[1] << 8); }
  u32() { const b = this.take(4); return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0; }
  varint() {
    let v = 0;
    for (let i = 0; i < 5; i++) {
      const byte = this.u8();
      v += (byte & 0x7f) * 2 ** (7 * i);
      if (byte < 0x80) return v;
    }
    throw new VqzError('malformed header: varint longer than 5 bytes');
  }
  varints(n) { return Array.from({ length: n }, () => this.varint()); }
}

// The layer records: format 6's own (count, then id, param, stream count, lengths), formats
// 3-5's fields read as the same records (FORMAT.md 2.2); the checks of 2.4 step 4 as read.
function readRecords(c, version) {
  const records = [];
  if (version >= 6) {
    const count = c.varint();
    if (count > LIMITS.layers) throw new VqzError(`malformed header: ${count} layers (at most ${LIMITS.layers})`);
    for (let i = 0; i < count; i++) {
      const id = c.varint(), param = c.varint(), streams = c.varint();
      if (streams > LIMITS.layerStreams) throw new VqzError(`malformed header: layer ${id} with ${streams} streams`);
      if (id <= (i ? records[i - 1].id : 0)) throw new VqzError('malformed header: layer ids not increasing from 1');
      records.push({ id, param, lengths: c.varints(streams) });
    }
    return records;
  }
  const step = version >= 3 ? c.varint() : 0;
  if (step > 0) {
    const stripes = c.varint();
    if (stripes < 1 || stripes > LIMITS.stripes) throw new VqzError('malformed header: stripes');
    records.push({ id: REFINEMENT, param: step, lengths: c.varints(stripes) });
  }
  const filterLength = version >= 4 ? c.varint() : 0;
  if (filterLength > 0) records.push({ id: FILTER, param: 0, lengths: [filterLength] });
  return records;
}

// Why a record breaks its layer's rule (FORMAT.md 2.2; the network's id is checked against
// the installed networks later), null if it does not.
function recordProblem({ id, param, lengths }, height) {
  if (!LAYER_NAMES[id]) return `unknown layer ${id} (this page knows layers 1-3: a newer vqcodec wrote it)`;
  if (id === REFINEMENT) {
    if (param < 4 || param > 4095) return `refinement step ${param} (in quarters; 4 to 4095)`;
    if (lengths.length !== Math.ceil(height / 512)) return `${lengths.length} refinement stripes where its height makes ${Math.ceil(height / 512)}`;
  } else if (id === NETWORK) {
    if (lengths.length) return 'a restoration network record has no streams';
  } else if (param !== 0 || lengths.length !== 1 || lengths[0] === 0) return 'a restoration filter record has parameter 0 and one non-empty stream';
  return null;
}

// Parse and check a file (FORMAT.md 2.4, steps 1-8, and step 9's layer rules). Returns the
// header with the payload's streams as subarrays of `bytes`: h.streams per tile and map,
// h.records [{id, param, lengths, streams}] in file (= running) order.
export function parse(bytes) {
  const c = new Cursor(bytes);
  const magic = c.take(3);
  if (magic[0] !== 0x56 || magic[1] !== 0x51 || magic[2] !== 0x5a) throw new VqzError('not a .vqz file (bad magic)');
  const version = c.u8();
  if (version < 1 || version > 6) throw new VqzError(`unknown .vqz version ${version}`);
  const h = { version, modelId: c.u16(), fingerprint: c.u32() };
  const flags = c.u8();
  if (flags >> 2) throw new VqzError('malformed header: reserved flag bits set');
  h.colour = flags & 3;
  if (version === 1) throw new VqzError('format 1 (legacy float prior) is not supported here: re-encode the original with vqcodec');
  if (c.u8() !== 1 || c.u8() !== 1) throw new VqzError('unknown arithmetic or coder');
  h.width = c.varint(); h.height = c.varint(); h.tile = c.varint();
  const maps = c.varint();
  if (h.tile > 0 && h.tile < LIMITS.minTile) throw new VqzError('malformed header: tile');
  if (maps < 1 || maps > LIMITS.maxMaps) throw new VqzError('malformed header: maps');
  const tiles = c.varint();
  if (tiles < 1 || tiles * maps > LIMITS.streams) throw new VqzError('malformed header: tiles');
  h.maps = maps;
  h.lengths = Array.from({ length: tiles }, () => c.varints(maps));
  h.records = readRecords(c, version);
  if (h.colour > 1) throw new VqzError('malformed header: colour');
  h.fields = bytes.subarray(0, c.pos);
  const check = c.u16();
  if (check !== (crc32(h.fields) & 0xffff)) throw new VqzError('damaged file: header check failed');
  const payloadCrc = version >= 5 ? c.u32() : null;
  h.crc32 = c.u32();
  const { width: w, height: ht } = h;
  if (w < 1 || ht < 1 || w > LIMITS.side || ht > LIMITS.side || w * ht > LIMITS.pixels) throw new VqzError(`image size ${w}x${ht} outside the limits`);
  if (h.tile > LIMITS.maxTile) throw new VqzError('malformed header: tile');
  for (const r of h.records) {   // (FORMAT.md 2.4: step 9's layer rules, checked here as it allows)
    const problem = recordProblem(r, ht);
    if (problem) throw new VqzError(`malformed header: ${problem}`);
  }
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  const payload = sum(h.lengths.map(sum)) + sum(h.records.map((r) => sum(r.lengths)));
  if (payload > 16 * w * ht + 4096) throw new VqzError('malformed header: payload over the limit');
  if (bytes.length < c.pos + payload) throw new VqzError(`truncated file (${bytes.length - c.pos} of ${payload} payload bytes)`);
  if (bytes.length > c.pos + payload) throw new VqzError('trailing data after the payload');
  if (payloadCrc !== null && crc32(bytes.subarray(c.pos)) !== payloadCrc) throw new VqzError('damaged file: payload CRC mismatch');
  let pos = c.pos;
  const next = (n) => bytes.subarray(pos, (pos += n));
  h.streams = h.lengths.map((row) => row.map(next));
  for (const r of h.records) r.streams = r.lengths.map(next);
  const record = (id) => h.records.find((r) => r.id === id);
  h.refineStep = record(REFINEMENT)?.param || 0;          // (refine.js reads these two)
  h.refinement = record(REFINEMENT)?.streams || [];
  return h;
}

// Map sizes (FORMAT.md 3.1) and tile rectangles (3.2): per tile [[r0, r1, c0, c1] top, bottom].
export function mapSizes(width, height, stride) {
  const h0 = Math.ceil(height / (2 * stride)), w0 = Math.ceil(width / (2 * stride));
  return [[h0, w0], [2 * h0, 2 * w0]];
}

export function tileRects([h0, w0], tile) {
  const span = (n) => { const out = []; const t = tile || n; for (let a = 0; a < n; a += t) out.push([a, Math.min(a + t, n)]); return out; };
  const rects = [];
  for (const [r0, r1] of span(h0)) for (const [c0, c1] of span(w0)) rects.push([[r0, r1, c0, c1], [2 * r0, 2 * r1, 2 * c0, 2 * c1]]);
  return rects;
}

// The CRC-32 over header fields, indices (u16 LE, whole maps, top first) and layer streams.
export function contentCrc(h, maps) {
  let crc = crc32(h.fields);
  for (const m of maps) {
    const b = new Uint8Array(m.length * 2);
    for (let i = 0; i < m.length; i++) { b[2 * i] = m[i] & 0xff; b[2 * i + 1] = m[i] >> 8; }
    crc = crc32(b, crc);
  }
  for (const r of h.records) for (const s of r.streams) crc = crc32(s, crc);
  return crc;
}
