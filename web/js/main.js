// The page: pick or drop a file, decode it in the worker, show it with its facts.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const debug = params.has('debug'), threads = Number(params.get('threads')) || undefined;   // ?debug=1, ?threads=1
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
let nextId = 0, pending = null, downloadUrl = null;

function setStatus(state, message, fraction) {
  $('status').dataset.state = state;
  $('message').textContent = message;
  $('progress').hidden = fraction === undefined;
  if (fraction !== undefined) $('progress').value = fraction;
}

worker.onmessage = ({ data }) => {
  if (!pending || data.id !== pending.id) return;
  if (data.type === 'progress') { setStatus('busy', `${data.stage}…`, data.fraction); return; }
  const { resolve, reject } = pending;
  pending = null;
  if (data.type === 'error') reject(new Error(data.message)); else resolve(data.result);
};
worker.onerror = (e) => { if (pending) { pending.reject(new Error(e.message || 'the decoder stopped')); pending = null; } };

// Decode bytes in the worker; resolves to the result ({width, height, channels, pixels, facts}).
export function decodeBytes(bytes, options = {}) {
  if (pending) pending.reject(new Error('superseded by another file'));
  return new Promise((resolve, reject) => {
    pending = { id: ++nextId, resolve, reject };
    worker.postMessage({ id: pending.id, bytes, debug, ...(threads ? { threads } : {}), ...options }, [bytes]);
  });
}

function show(result, name) {
  const { width, height, channels, pixels, facts } = result;
  const canvas = $('canvas');
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext('2d'), img = ctx.createImageData(width, height);
  for (let p = 0; p < width * height; p++) {
    const o = 4 * p;
    if (channels === 1) img.data[o] = img.data[o + 1] = img.data[o + 2] = pixels[p];
    else { img.data[o] = pixels[3 * p]; img.data[o + 1] = pixels[3 * p + 1]; img.data[o + 2] = pixels[3 * p + 2]; }
    img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const rows = [
    ['file', name], ['size', `${width} × ${height}${channels === 1 ? ' (grayscale)' : ''}`],
    ['file size', `${facts.bytes.toLocaleString()} bytes`], ['bits per pixel', facts.bpp.toFixed(4)],
    ['model', `${facts.model} (id ${facts.modelId})`], ['format', `version ${facts.version}, ${facts.tiles} tile${facts.tiles > 1 ? 's' : ''}`],
    ['layers', [facts.refineStep && `refinement (step ${facts.refineStep})`, facts.network && `restoration network ${facts.network}`, facts.filtered && 'filter'].filter(Boolean).join(', ') || 'none'],
    ['decode time', `${(facts.ms / 1000).toFixed(2)} s (${facts.threads} thread${facts.threads > 1 ? 's' : ''}, kernels ${facts.kernels})`],
  ];
  $('facts').replaceChildren(...rows.map(([k, v]) => { const tr = document.createElement('tr'); tr.append(Object.assign(document.createElement('th'), { textContent: k }), Object.assign(document.createElement('td'), { textContent: v })); return tr; }));
  $('result').hidden = false;
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;
  $('download').download = name.replace(/\.vqz$/i, '') + '.png';
  canvas.toBlob((blob) => { downloadUrl = URL.createObjectURL(blob); $('download').href = downloadUrl; }, 'image/png');
}

async function open(file) {
  setStatus('busy', `reading ${file.name}…`, 0);
  try {
    const result = await decodeBytes(await file.arrayBuffer());
    show(result, file.name);
    window.vqzLast = result;
    setStatus('done', `decoded ${file.name} in ${(result.facts.ms / 1000).toFixed(2)} s`);
  } catch (err) {
    window.vqzLast = { error: err.message };
    $('result').hidden = true;
    setStatus('error', `Cannot decode ${file.name}: ${err.message}`);
  }
}

$('file').addEventListener('change', (e) => { if (e.target.files[0]) open(e.target.files[0]); });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); if (e.dataTransfer.files[0]) open(e.dataTransfer.files[0]); });
window.vqz = { decodeBytes };
setStatus('idle', 'No file yet.');
