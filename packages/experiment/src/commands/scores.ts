import type { Net } from '@cnn/nn';

/*
 * From a net's output blob to ranked classes, without touching files: shared by
 * `cnn classify` and the /classify page of `cnn serve`.
 */

/** One of an image's best classes. */
export interface ClassScore {
  index: number;
  label: string | null;
  probability: number;
}

/** The blob holding class scores, and whether softmax must still be applied to it. */
export interface ScoreBlob {
  blob: string;
  /** True when the blob's producer is not a Softmax layer, so the scores are logits. */
  softmaxApplied: boolean;
}

/** The blob `name` (default: the first top of the net's last layer), or undefined if the net has none. */
export function scoreBlob(net: Net, name?: string): ScoreBlob | undefined {
  const blob = name ?? net.blobsOf(net.layers.length - 1).tops[0]?.name;
  if (blob === undefined) return undefined;
  const producer = [...net.layers.keys()].reverse().find((i) => net.blobsOf(i).tops.some((top) => top.name === blob));
  return { blob, softmaxApplied: producer === undefined || net.layers[producer]!.type !== 'Softmax' };
}

/** The `count` best classes of one image's `scores` (softmaxed first when `softmaxApplied`), ties broken by index. */
export function rankClasses(scores: readonly number[], softmaxApplied: boolean, labels: readonly string[] | undefined, count: number): ClassScore[] {
  const probabilities = softmaxApplied ? softmax(scores) : [...scores];
  const order = probabilities.map((p, index) => ({ p, index })).sort((a, b) => b.p - a.p || a.index - b.index);
  return order.slice(0, count).map(({ p, index }) => ({ index, label: labels?.[index] ?? null, probability: p }));
}

/** `exp(s_i - max) / sum_j exp(s_j - max)`: probabilities from scores (logits). */
export function softmax(scores: readonly number[]): number[] {
  const max = Math.max(...scores);
  const exps = scores.map((s) => Math.exp(s - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}
