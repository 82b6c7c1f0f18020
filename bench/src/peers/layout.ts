/**
 * Transposes a row-major 4-D array: axis k of the result is axis `perm[k]` of `data` (of
 * `shape`). The peers use it once per weight or input, outside the timed forward pass:
 *
 * - NCHW images to NHWC (tfjs, convnetjs): perm [0, 2, 3, 1];
 * - Caffe's OIHW filters to HWIO (tfjs conv2d): [2, 3, 1, 0], or to OHWI (convnetjs): [0, 2, 3, 1];
 * - fc weights (out, C*H*W), viewed as [out, C, H, W], to [H, W, C, out] (tfjs: inputs in the
 *   H, W, C order in which an NHWC pool5 flattens, then outputs): [2, 3, 1, 0]; or to
 *   [out, H, W, C] (convnetjs): [0, 2, 3, 1].
 */
export function transpose4(data: Float32Array, shape: readonly [number, number, number, number], perm: readonly [number, number, number, number]): Float32Array {
  if (data.length !== shape[0] * shape[1] * shape[2] * shape[3]) throw new Error(`transpose4: ${data.length} values for shape [${shape}]`);
  const strides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const [s0, s1, s2, s3] = perm.map((axis) => strides[axis]!) as [number, number, number, number];
  const [n0, n1, n2, n3] = perm.map((axis) => shape[axis]!) as [number, number, number, number];
  const out = new Float32Array(data.length);
  let o = 0;
  for (let a = 0; a < n0; a++) {
    for (let b = 0; b < n1; b++) {
      for (let c = 0; c < n2; c++) {
        const base = a * s0 + b * s1 + c * s2;
        for (let d = 0; d < n3; d++) out[o++] = data[base + d * s3]!;
      }
    }
  }
  return out;
}
