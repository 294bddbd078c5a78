// A helper worker of the pool (pool.js): decodes a subset of the tiles, synthesizes a band of
// rows or runs the restoration network on one, for the decoding worker.

import { Assets } from './assets.js';
import { parse } from './container.js';
import { modelParts } from './decoder.js';
import { decodeMaps } from './prior.js';
import { synthesizeRows } from './synthesis.js';
import { restoreNetOf, restoreRows } from './restorenet.js';
import { ready } from './kernels.js';

const assets = new Assets(new URL('../', import.meta.url));

self.onmessage = async ({ data }) => {
  const { id, task } = data;
  try {
    await ready;   // (the decoding worker has checked it)
    const entry = await assets.model(data.modelId), parts = modelParts(assets, entry);
    if (task === 'maps') {
      const h = parse(new Uint8Array(data.bytes)), prior = await parts.prior;
      let sent = 0, now = 0;
      const { maps } = decodeMaps(h, prior, entry.stride, (done) => {
        now = done;
        if (now - sent >= 256) { self.postMessage({ id, type: 'progress', done: now - sent }); sent = now; }
      }, data.tiles);
      self.postMessage({ id, type: 'progress', done: now - sent });
      self.postMessage({ id, type: 'result', result: maps }, maps.map((m) => m.buffer));
    } else if (task === 'restore') {
      const net = await restoreNetOf(assets, data.networkId);
      const rgb = restoreRows(net, data.rgb, data.width, data.height, data.step, data.r0, data.r1);
      self.postMessage({ id, type: 'result', result: rgb }, [rgb.buffer]);
    } else {
      const net = await parts.synthesis;
      const rgb = synthesizeRows(net, data.maps, data.sizes, data.width, data.height, data.v0, data.v1);
      self.postMessage({ id, type: 'result', result: rgb }, [rgb.buffer]);
    }
  } catch (err) {
    self.postMessage({ id, type: 'error', message: String((err && err.message) || err).split('\n')[0] });
  }
};
