import { shutdownPool } from '@cnn/tensor';
import { measureSystem } from './measure-system.js';
import { peerModel } from './reference.js';
import { systems } from './systems.js';

/*
 * Child process of the `peers` suite: `child <system id> <threads> <model id>`. Measures one
 * system on one net at one thread count and sends its SystemReport to the parent over the IPC channel. A process of its
 * own because onnxruntime-web fixes its thread count once per process, and so that no system's
 * worker threads, heaps or JIT state weigh on the next one.
 */
const [id, threadsArgument, modelId = 'caffenet'] = process.argv.slice(2);
const system = systems().find((candidate) => candidate.id === id);
const threads = Number(threadsArgument);
if (!system || !Number.isInteger(threads) || threads < 1 || !process.send) throw new Error('usage (from the peers suite, with an IPC channel): child <system id> <threads> <model id>');
try {
  const report = await measureSystem(system, peerModel(modelId), threads, (line) => console.log(line));
  await new Promise<void>((resolve, reject) => process.send!(report, undefined, {}, (error) => (error ? reject(error) : resolve())));
} finally {
  await shutdownPool();
}
