import { encodeOnnxModel, type OnnxNode, type OnnxTensor } from './onnx-writer.js';
import type { NetOp, PeerModel } from './reference.js';

/** The name of the graph's input; its outputs are named after the model's logits and prob layers. */
export const onnxInput = 'data';

/**
 * A net as an ONNX model (opset 13), NCHW like Caffe, with the batch dimension symbolic so
 * one session serves batch 1 and 64. Input `data` [N, C, H, W]; outputs the logits (before the
 * softmax, for the correctness check) and `prob` [N, classes].
 *
 * Caffe's layers map one to one: Conv keeps OIHW weights and takes `group`; ONNX's LRN scales
 * the sum of squares by alpha / size, as Caffe does, so alpha passes unchanged; MaxPool without
 * ceil_mode rounds down, which `netOps` has checked changes nothing here; InnerProduct is
 * Gemm with transB = 1 on the (out, in) weights, after a Flatten for fc6 whose C, H, W order is
 * Caffe's; Clip takes its bounds as scalar initializers; a whole-map average pooling is
 * GlobalAveragePool.
 */
export function netOnnx(model: PeerModel, ops: readonly NetOp[]): Uint8Array {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  let current: string = onnxInput;
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
      case 'clip':
        initializers.push({ name: `${op.name}_min`, dims: [], data: Float32Array.of(op.min) });
        initializers.push({ name: `${op.name}_max`, dims: [], data: Float32Array.of(op.max) });
        add({ opType: 'Clip', name: op.name, inputs: [current, `${op.name}_min`, `${op.name}_max`] });
        break;
      case 'globalAvgPool':
        add({ opType: 'GlobalAveragePool', name: op.name, inputs: [current] });
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
  if (last?.kind !== 'softmax' || logits?.kind !== 'fc' || last.name !== model.prob || logits.name !== model.logits) {
    throw new Error(`expected the net to end in ${model.logits} then Softmax ${model.prob}`);
  }
  return encodeOnnxModel({
    irVersion: 7,
    opsetVersion: 13,
    producerName: '@cnn/bench',
    graph: {
      name: model.id,
      nodes,
      initializers,
      inputs: [{ name: onnxInput, shape: ['N', ...model.imageShape] }],
      outputs: [
        { name: model.logits, shape: ['N', logits.outputs] },
        { name: model.prob, shape: ['N', logits.outputs] },
      ],
    },
  });
}
