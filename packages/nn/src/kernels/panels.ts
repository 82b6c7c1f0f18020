import { getThreads, partRange } from '@cnn/tensor';

/*
 * How the direct and pointwise convolutions share a batch out over the pool: the work is
 * `num` images x `panels` panels of four output planes, in that order, cut into `parts` equal
 * runs. A batch of many images goes out whole images to each thread; a single image is cut
 * between output panels, so batch 1 uses every thread too.
 */

/**
 * Below this many multiply-adds a layer runs on the calling thread: about 0.05 ms of the
 * kernels' work, under what waking a worker costs on a loaded machine.
 */
const MIN_PARALLEL_WORK = 1 << 19;

/** The parts a layer of `multiplyAdds` over `num * panels` items takes: 1 when small, at most one per item. */
export function panelParts(multiplyAdds: number, num: number, panels: number): number {
  return Math.max(1, Math.min(getThreads(), num * panels, Math.floor(multiplyAdds / MIN_PARALLEL_WORK)));
}

/** Calls `visit(n, first, end)` for each image n of part `part`, with its run of panels [first, end). */
export function eachPanelRun(num: number, panels: number, part: number, parts: number, visit: (n: number, first: number, end: number) => void): void {
  const [start, stop] = partRange(num * panels, part, parts);
  for (let item = start; item < stop; ) {
    const n = Math.floor(item / panels);
    const end = Math.min(stop, (n + 1) * panels);
    visit(n, item - n * panels, end - n * panels);
    item = end;
  }
}
