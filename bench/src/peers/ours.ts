import { setBackend, setThreads, type BackendName } from '@cnn/tensor';
import type { Runner, RunnerSetup } from './runner.js';

/**
 * This project's Net itself, on one backend, with the pool at `setup.threads` threads. The net
 * is built anew under that backend (with the wasm backend its tensors live on the wasm heap);
 * its weights are the reference's, made by the same seeded fillers.
 */
export async function oursRunner(backend: BackendName, setup: RunnerSetup): Promise<Runner> {
  setBackend(backend);
  setThreads(setup.threads);
  const net = setup.model.net(setup.batch);
  net.blob('data').data.data.set(setup.images);
  return {
    async: false,
    forward: () => void net.forward(),
    async outputs() {
      net.forward();
      return { logits: Float32Array.from(net.blob(setup.model.logits).data.data), prob: Float32Array.from(net.blob(setup.model.prob).data.data) };
    },
    dispose: async () => {},
  };
}
