import { encodeOnnxModel, type OnnxNode, type OnnxTensor } from './onnx-writer.js';
import { imageShape, logitsLayer, probLayer, type CaffeNetOp } from './reference.js';

/** Names of the graph's input and outputs. */
export const onnxNames = { input: 'data', logits: logitsLayer, prob: probLayer } as const;

/**
 * CaffeNet as an ONNX model (opset 13), NCHW like Caffe, with the batch dimension symbolic so
 * one session serves batch 1 and 64. Input `data` [N, 3, 227, 227]; outputs `fc8` (before the
 * softmax, for the correctness check) and `prob` [N, 1000].
 *
 * Caffe's layers map one to one: Conv keeps OIHW weights and takes `group`; ONNX's LRN scales
 * the sum of squares by alpha / size, as Caffe does, so alpha passes unchanged; MaxPool without
 * ceil_mode rounds down, which `caffeNetOps` has checked changes nothing here; InnerProduct is
 * Gemm with transB = 1 on the (out, in) weights, after a Flatten for fc6 whose C, H, W order is
 * Caffe's.
 */
export function caffeNetOnnx(ops: readonly CaffeNetOp[]): Uint8Array {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  let current: string = onnxNames.input;
  const add = (node: Omit<OnnxNode, 'outputs'>, output = node.name): void => {
    nodes.push({ ...node, outputs: [output] });
    current = output;
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'conv': {
        const inPerGroup = op.input[0]! / op.group;
        initializers.push({ name: `${op.name}_w`, dims: [op.outChannels, inPerGroup, op.kernel, op.kernel], data: op.weight });
        initializers.push({ name: `${op.name}_b`, dims: [op.outChannels], data: op.bias });
        add({
          opType: 'Conv',
          name: op.name,
          inputs: [current, `${op.name}_w`, `${op.name}_b`],
          attributes: [
            { name: 'kernel_shape', ints: [op.kernel, op.kernel] },
            { name: 'strides', ints: [op.stride, op.stride] },
            { name: 'pads', ints: [op.pad, op.pad, op.pad, op.pad] },
            { name: 'group', int: op.group },
          ],
        });
        break;
      }
      case 'relu':
        add({ opType: 'Relu', name: op.name, inputs: [current] });
        break;
      case 'maxPool':
        add({
          opType: 'MaxPool',
          name: op.name,
          inputs: [current],
          attributes: [
            { name: 'kernel_shape', ints: [op.kernel, op.kernel] },
            { name: 'strides', ints: [op.stride, op.stride] },
          ],
        });
        break;
      case 'lrn':
        add({
          opType: 'LRN',
          name: op.name,
          inputs: [current],
          attributes: [
            { name: 'size', int: op.size },
            { name: 'alpha', float: op.alpha },
            { name: 'beta', float: op.beta },
            { name: 'bias', float: op.k },
          ],
        });
        break;
      case 'fc': {
        if (op.input.length > 1) add({ opType: 'Flatten', name: `${op.name}_flatten`, inputs: [current], attributes: [{ name: 'axis', int: 1 }] });
        const inputs = op.input.reduce((product, dim) => product * dim, 1);
        initializers.push({ name: `${op.name}_w`, dims: [op.outputs, inputs], data: op.weight });
        initializers.push({ name: `${op.name}_b`, dims: [op.outputs], data: op.bias });
        add({ opType: 'Gemm', name: op.name, inputs: [current, `${op.name}_w`, `${op.name}_b`], attributes: [{ name: 'transB', int: 1 }] });
        break;
      }
      case 'softmax':
        add({ opType: 'Softmax', name: op.name, inputs: [current], attributes: [{ name: 'axis', int: 1 }] });
        break;
    }
  }
  const last = ops.at(-1);
  const logits = ops.at(-2);
  if (last?.kind !== 'softmax' || logits?.kind !== 'fc' || last.name !== probLayer || logits.name !== logitsLayer) {
    throw new Error(`expected the net to end in ${logitsLayer} then Softmax ${probLayer}`);
  }
  return encodeOnnxModel({
    irVersion: 7,
    opsetVersion: 13,
    producerName: '@cnn/bench',
    graph: {
      name: 'CaffeNet',
      nodes,
      initializers,
      inputs: [{ name: onnxNames.input, shape: ['N', ...imageShape] }],
      outputs: [
        { name: onnxNames.logits, shape: ['N', logits.outputs] },
        { name: onnxNames.prob, shape: ['N', logits.outputs] },
      ],
    },
  });
}
