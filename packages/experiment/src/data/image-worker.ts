import { parentPort } from 'node:worker_threads';
import { claim, doItem, failureOf, itemName, type ImageJob, type ImageReply } from './image-workers.js';

/*
 * The entry of an image worker (image-workers.ts): one reply per image, its pixels copied rather
 * than transferred. Transferring detaches the buffer, and the first buffer detached in a thread
 * makes V8 check for detached buffers at every typed-array access it compiles from then on (in
 * a thread that had detached one buffer, resize() ran 20-25% slower on 64 -> 256 and
 * 256 -> 160 gray images), for a copy saved of 30 microseconds or less per image. Jobs are served in the order they came, one image at a time;
 * an image the caller has already claimed is skipped.
 */

const port = parentPort!;

/** A job and its next item. */
type Queued = { job: ImageJob; next: number };

const queue: Queued[] = [];
/** Jobs that failed: their other images are skipped (the caller has its error). */
const failed = new Set<number>();
let busy = false;

port.on('message', (job: ImageJob) => {
  queue.push({ job, next: 0 });
  void work();
});

/** The next item to do: of the oldest job with items left. */
function nextTask(): { job: ImageJob; i: number } | undefined {
  while (queue.length > 0 && queue[0]!.next >= queue[0]!.job.count) queue.shift();
  const head = queue[0];
  return head ? { job: head.job, i: head.next++ } : undefined;
}

/** Runs the queued items; an awaited read lets new requests in between. */
async function work(): Promise<void> {
  if (busy) return;
  busy = true;
  for (let task = nextTask(); task; task = nextTask()) {
    const { job, i } = task;
    const index = job.first + i;
    if (failed.has(job.id) || !claim(job.claims, index)) continue;
    try {
      const result = await doItem(job, i);
      const reply: ImageReply = result instanceof Float32Array ? { id: job.id, index, input: result } : { id: job.id, index, screened: result };
      port.postMessage(reply);
    } catch (error) {
      // A bug (bad files are results, not exceptions): reported with the item it stopped at.
      failed.add(job.id);
      port.postMessage({ id: job.id, failure: failureOf(error, itemName(job, i)) } satisfies ImageReply);
    }
  }
  busy = false;
}
