/**
 * Caffe's CanonicalAxisIndex: `axis` counted from the end when negative. Returns
 * undefined when the axis is outside [-rank, rank), so the caller can throw an error
 * naming its layer.
 */
export function canonicalAxis(axis: number, rank: number): number | undefined {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) return undefined;
  return axis < 0 ? axis + rank : axis;
}

/** The number of elements in axes [start, end) of `shape` (Caffe's Blob::count(start, end)). */
export function countAxes(shape: readonly number[], start: number, end = shape.length): number {
  let count = 1;
  for (let i = start; i < end; i++) count *= shape[i]!;
  return count;
}
