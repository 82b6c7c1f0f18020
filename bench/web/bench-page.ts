import type { BenchJob } from '../src/browser-protocol.js';

/*
 * The in-page bench's page: starts the worker with the job its address names and puts the
 * answer on the body, where the Node side (bench/src/suites/browser.ts) reads it.
 */
const params = new URLSearchParams(location.search);
const job: BenchJob = {
  system: params.get('system') === 'onnxruntime-web' ? 'onnxruntime-web' : 'ours',
  model: params.get('model') === 'caffenet' ? 'caffenet' : 'mobilenet_v1_0.5_160',
  threads: Number(params.get('threads')) || 1,
  minSeconds: Number(params.get('seconds')) || 2,
};
const worker = new Worker('/app/bench-worker.js', { type: 'module' });
worker.onmessage = ({ data }) => {
  document.body.dataset.result = JSON.stringify(data);
};
worker.onerror = (event) => {
  document.body.dataset.result = JSON.stringify({ ok: false, error: `the worker failed: ${event.message}` });
};
worker.postMessage(job);
