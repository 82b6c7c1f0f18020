import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { markPoolWorker } from './settings.js';
import { State, type Job, type PoolWorkerInit, type WorkerReply } from './protocol.js';
import type { PartKernel } from './pool.js';
import { runJob } from './job.js';
import { attachHeap, markHeapWorker } from '../wasm/heap.js';

/*
 * The loop of one pool worker: sleep on its control slot, wake for a job, run the
 * part it was given, report, sleep again. Kernel modules are imported once and kept.
 */

const { control, slot, port, heap, thread } = workerData as PoolWorkerInit & { port: MessagePort };
markPoolWorker();
markHeapWorker();
if (heap) attachHeap(heap, thread);

/**
 * How long a worker polls its slot for the next job before it sleeps: parts often come back
 * to back (the GEMMs of one layer), and a sleeping thread took 0.25 ms to wake here, a
 * polling one microseconds. Measured on the conv4/conv5 GEMMs on 2 threads: 3-4% faster.
 */
const POLL_MS = 0.3;

const modules = new Map<string, Record<string, unknown>>();

async function kernelOf(job: Job): Promise<PartKernel> {
  let module = modules.get(job.module);
  if (!module) {
    module = (await import(job.module)) as Record<string, unknown>;
    modules.set(job.module, module);
  }
  const kernel = module[job.name];
  if (typeof kernel !== 'function') throw new Error(`module ${job.module} has no kernel '${job.name}'`);
  return kernel as PartKernel;
}

function nextJob(): Job {
  // The job is posted before the state flips to Pending, so it is normally already queued.
  for (;;) {
    const received = receiveMessageOnPort(port);
    if (received) return received.message as Job;
    Atomics.wait(control, slot, State.Pending, 1);
  }
}

for (;;) {
  let state = Atomics.load(control, slot);
  const pollUntil = performance.now() + POLL_MS;
  while (state !== State.Pending && state !== State.Quit && performance.now() < pollUntil) state = Atomics.load(control, slot);
  while (state !== State.Pending && state !== State.Quit) {
    Atomics.wait(control, slot, state);
    state = Atomics.load(control, slot);
  }
  if (state === State.Quit) break;
  try {
    const job = nextJob();
    runJob(job, await kernelOf(job));
    Atomics.store(control, slot, State.Done);
  } catch (error) {
    const reply: WorkerReply =
      error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) };
    port.postMessage(reply);
    Atomics.store(control, slot, State.Failed);
  }
  Atomics.notify(control, slot);
}
port.close();
