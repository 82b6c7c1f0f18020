import { availableParallelism, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { PoolWorkerHandle, PoolWorkerInit, WorkerReply } from '../pool/protocol.js';

/*
 * What the library needs from its host, in Node: the core count, environment variables, and
 * pool workers as worker_threads. browser.ts gives the same functions in a web page; the
 * package's `#platform` import picks one by the `browser` export condition (package.json).
 */

/** The number of cores the process may use. */
export function coreCount(): number {
  return availableParallelism();
}

/**
 * Lets WebAssembly modules compiled from now on use relaxed SIMD, which Node 20's V8 has
 * behind a flag (V8's flags are process-wide, so this covers the pool's workers too).
 */
export function enableRelaxedSimd(): void {
  setFlagsFromString('--experimental-wasm-relaxed-simd');
}

/** The machine's physical memory in bytes: the most a net's tensors can take. */
export function physicalMemory(): number | undefined {
  return totalmem();
}

/** An environment variable (CNN_THREADS, CNN_BACKEND), or undefined. */
export function environmentVariable(name: string): string | undefined {
  return process.env[name];
}

/**
 * Starts one pool worker (pool/worker.ts) on a worker thread. Jobs go over a MessagePort; a
 * failure's message comes back on the same port, read synchronously while the caller waits.
 */
export function startPoolWorker(init: PoolWorkerInit): PoolWorkerHandle {
  const { port1, port2 } = new MessageChannel();
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const entry = new URL(`../pool/worker.${extension}`, import.meta.url).href;
  const workerData = { ...init, port: port2 };
  // Run from the TypeScript sources (tests, tsx), a worker needs tsx's loader to import .ts files, and the
  // `source` export condition so that the kernels it imports resolve to the same sources as this thread's.
  const worker =
    extension === 'ts'
      ? new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
            `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`,
          { eval: true, workerData, transferList: [port2], execArgv: ['--conditions=source'] },
        )
      : new Worker(new URL(entry), { workerData, transferList: [port2] });
  worker.unref();
  port1.unref();
  return {
    started: Promise.resolve(),
    post: (job) => port1.postMessage(job),
    failure: () => receiveMessageOnPort(port1)?.message as WorkerReply | undefined,
    // The workers are unref'd so that an idle pool never keeps the process alive; while we wait for
    // them to exit they must count again, or an `await shutdownPool()` at the end of a program
    // leaves the event loop empty and Node quits with exit code 13 (unsettled top-level await).
    // The caller has already set the worker's state to Quit.
    close: async () => {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.ref();
      await exited;
      port1.close();
    },
  };
}
