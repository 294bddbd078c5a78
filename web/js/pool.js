// A pool of helper workers (helper.js) for the decoding worker: the tiles of the code maps are
// independent (FORMAT.md 3.2), and the synthesis can run in bands of rows.

import { VqzError } from './container.js';

export class Pool {
  constructor(size) {
    this.helpers = Array.from({ length: size }, () => new Worker(new URL('./helper.js', import.meta.url), { type: 'module' }));
    this.next = 0;
    this.pending = new Map();
    for (const w of this.helpers) {
      w.onmessage = ({ data }) => {
        const p = this.pending.get(data.id);
        if (!p) return;
        if (data.type === 'progress') { p.onProgress(data.done); return; }
        this.pending.delete(data.id);
        if (data.type === 'error') p.reject(new VqzError(data.message)); else p.resolve(data.result);
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.broken = true;
        for (const p of this.pending.values()) p.reject(new VqzError(`a decoding thread stopped (${e.message || 'out of memory?'})`));
        this.pending.clear();
      };
    }
  }

  get size() { return this.helpers.length; }

  close() { for (const w of this.helpers) w.terminate(); }

  // Run `task` on helper k; onProgress(codes) for map tasks.
  run(k, task, transfer = [], onProgress = () => {}) {
    return new Promise((resolve, reject) => {
      const id = ++this.next;
      this.pending.set(id, { resolve, reject, onProgress });
      this.helpers[k].postMessage({ ...task, id }, transfer);
    });
  }

  // n rows in bands, one a helper: task(r0, r1) the task of rows [r0, r1), its result their
  // bytes, set one after the other into `out`
  async bands(n, task, out) {
    const bands = split(new Array(n).fill(1), this.size);
    const rows = await Promise.all(bands.map((band, k) => this.run(k, task(band[0], band[band.length - 1] + 1))));
    let o = 0;
    for (const r of rows) { out.set(r, o); o += r.length; }
    return out;
  }
}

// Split items with weights into k contiguous runs of about equal weight.
export function split(weights, k) {
  const total = weights.reduce((a, b) => a + b, 0), runs = [[]];
  let acc = 0;
  weights.forEach((w, i) => {
    if (acc >= (total * runs.length) / k && runs.length < k) runs.push([]);
    runs[runs.length - 1].push(i);
    acc += w;
  });
  return runs.filter((r) => r.length);
}
