import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { writeEntry } from '@cnn/experiment/transfer';

/**
 * Writes one feature-cache entry over and over from two threads of this process, as two
 * writers sharing a host name and a process id would (two pods that are both process 1).
 * Thread t of writer w writes `times` entries of `values` values, all equal to 1 + 2 w + t.
 *
 * Usage: entry-writers.ts <entry path> <writer w> <values> <times>
 */
interface Job {
  path: string;
  value: number;
  values: number;
  times: number;
}

if (isMainThread) {
  const [path, writer, values, times] = process.argv.slice(2);
  const threads = [0, 1].map(
    (t) =>
      new Promise<void>((resolve, reject) => {
        const job: Job = { path: path!, value: 1 + 2 * Number(writer) + t, values: Number(values), times: Number(times) };
        // The thread runs this file from its TypeScript source, through tsx's loader (as the tensor pool does).
        const start = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
        const worker = new Worker(start, { eval: true, workerData: job });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer thread ${t} exited with ${code}`))));
      }),
  );
  await Promise.all(threads);
} else {
  const job = workerData as Job;
  const row = new Float32Array(job.values).fill(job.value);
  for (let i = 0; i < job.times; i++) writeEntry(job.path, row);
}
