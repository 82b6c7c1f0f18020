/** Where an array holds NaN or ±Infinity: how many such values, and the first one and its index. */
export interface NonFinite {
  count: number;
  first: number;
  value: number;
}

/**
 * The non-finite values (NaN, +Infinity, -Infinity) of `values`, or `undefined` when every value
 * is finite. One NaN weight turns every output it reaches into NaN, so weights and features are
 * checked once, where they enter, rather than found out at the end of a run.
 */
export function findNonFinite(values: ArrayLike<number>): NonFinite | undefined {
  let count = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // v - v is 0 for every finite v and NaN for NaN and both infinities.
    if (v - v !== 0) {
      if (count === 0) first = i;
      count++;
    }
  }
  return count === 0 ? undefined : { count, first, value: values[first]! };
}
