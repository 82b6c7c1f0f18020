import { parentPort } from 'node:worker_threads';
import { claim, doItem, failureOf, itemName, type ImageJob, type ImageReply } from './image-workers.js';

/*
 * The entry of an image worker (image-workers.ts): one reply per image, its pixels copied rather
 * than transferred. Transferring detaches the buffer, and the first buffer detached in a thread
 * makes V8 check for detached buffers at every typed-array access it compiles from then on (in
 * a thread that had detached one buffer, resize() ran 20-25% slower on 64 -> 256 and
 * 256 -> 160 gray images), for a copy saved of 30 microseconds or less per image.
 *
 * A job's images are done in order, whole (a request that comes meanwhile waits in the port);
 * an image the caller has already claimed is skipped.
 */

const port = parentPort!;

port.on('message', (job: ImageJob) => {
  for (let i = 0; i < job.count; i++) {
    const index = job.first + i;
    if (!claim(job.claims, index)) continue;
    try {
      const result = doItem(job, i);
      const reply: ImageReply = result instanceof Float32Array ? { id: job.id, index, input: result } : { id: job.id, index, screened: result };
      port.postMessage(reply);
    } catch (error) {
      // A bug (bad files are results, not exceptions): reported with the item it stopped at, and the job's other items left.
      port.postMessage({ id: job.id, failure: failureOf(error, itemName(job, i)) } satisfies ImageReply);
      return;
    }
  }
});
