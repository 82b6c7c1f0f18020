/**
 * The half-open range [start, end) of part `part` of `parts` over `total` items,
 * in chunks that are multiples of `align` (so parallel GEMM parts fall on tile edges).
 */
export function partRange(total: number, part: number, parts: number, align = 1): [number, number] {
  const chunk = Math.ceil(total / parts / align) * align;
  const start = Math.min(total, part * chunk);
  return [start, Math.min(total, start + chunk)];
}
