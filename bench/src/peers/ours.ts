import { setBackend, setThreads, type BackendName } from '@cnn/tensor';
import { logitsLayer, probLayer } from './reference.js';
import type { Runner, RunnerSetup } from './runner.js';

/** This project's Net itself, on one backend, with the pool at `setup.threads` threads. */
export async function oursRunner(backend: BackendName, setup: RunnerSetup): Promise<Runner> {
  const { net } = setup;
  setBackend(backend);
  setThreads(setup.threads);
  net.setBatchSize(setup.batch);
  net.blob('data').data.data.set(setup.images);
  return {
    async: false,
    forward: () => void net.forward(),
    async outputs() {
      net.forward();
      return { fc8: Float32Array.from(net.blob(logitsLayer).data.data), prob: Float32Array.from(net.blob(probLayer).data.data) };
    },
    dispose: async () => {},
  };
}
