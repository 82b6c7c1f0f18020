import * as tf from '@tensorflow/tfjs';
import { transpose4 } from './layout.js';
import type { NetOp } from './reference.js';
import type { Runner, RunnerSetup } from './runner.js';

/** One layer as tfjs ops: NHWC [N, H, W, C] in, or [N, features] after the first fc. */
type Step = (x: tf.Tensor) => tf.Tensor;

/** The activation fused into a convolution or fc: the ReLU or ReLU6 (Clip 0..6) that follows it, if any. */
type Activation = 'linear' | 'relu' | 'relu6';

/**
 * A depthwise convolution (one input channel per group, MobileNet's): tf.depthwiseConv2d, with
 * Caffe's [C, 1, kh, kw] filters as tfjs's [kh, kw, C, 1].
 */
function depthwise(op: Extract<NetOp, { kind: 'conv' }>, activation: Activation, held: tf.Tensor[]): Step {
  const filter = tf.tensor4d(transpose4(op.weight, [op.outChannels, 1, op.kernel, op.kernel], [2, 3, 0, 1]), [op.kernel, op.kernel, op.outChannels, 1]);
  const bias = tf.tensor1d(op.bias);
  held.push(filter, bias);
  return (x) => tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter, strides: op.stride, pad: op.pad, bias, activation });
}

/**
 * A grouped convolution from tfjs ops (tf.conv2d has no groups): split the input channels,
 * convolve each group with its slice of the filters, concatenate. Caffe's OIHW weights become
 * tfjs's HWIO, one filter tensor per group; the activation that follows is fused, as tf.layers would.
 */
function convolution(op: Extract<NetOp, { kind: 'conv' }>, activation: Activation, held: tf.Tensor[]): Step {
  if (op.group > 1 && op.group === op.input[0] && op.group === op.outChannels) return depthwise(op, activation, held);
  const outPerGroup = op.outChannels / op.group;
  const inPerGroup = op.input[0]! / op.group;
  const size = outPerGroup * inPerGroup * op.kernel * op.kernel;
  const groups = Array.from({ length: op.group }, (_, g) => ({
    filter: tf.tensor4d(transpose4(op.weight.subarray(g * size, (g + 1) * size), [outPerGroup, inPerGroup, op.kernel, op.kernel], [2, 3, 1, 0]), [op.kernel, op.kernel, inPerGroup, outPerGroup]),
    bias: tf.tensor1d(op.bias.subarray(g * outPerGroup, (g + 1) * outPerGroup)),
  }));
  held.push(...groups.flatMap((group) => [group.filter, group.bias]));
  const convolve = (x: tf.Tensor4D, group: (typeof groups)[number]): tf.Tensor4D =>
    tf.fused.conv2d({ x, filter: group.filter, strides: op.stride, pad: op.pad, bias: group.bias, activation });
  return (x) => {
    const input = x as tf.Tensor4D;
    if (op.group === 1) return convolve(input, groups[0]!);
    const parts = tf.split<tf.Tensor4D>(input, op.group, 3);
    return tf.concat(parts.map((part, g) => convolve(part, groups[g]!)), 3);
  };
}

/**
 * A fully connected layer: x [N, in] times the weights as [in, out], plus bias. The weights are
 * transposed here once rather than passed as (out, in) with transposeB: tfjs-backend-wasm 4.22's
 * fused matMul adds the bias wrongly with transposeB (off by 170 at 4096 x 4096, where matMul
 * alone is right). fc6's input is NHWC pool5 flattened in H, W, C order, so its (out, C*H*W)
 * weights, viewed as [out, C, H, W], become [H, W, C, out].
 */
function fullyConnected(op: Extract<NetOp, { kind: 'fc' }>, activation: Activation, held: tf.Tensor[]): Step {
  const inputs = op.weight.length / op.outputs;
  const [c, h = 1, w = 1] = op.input;
  const b = tf.tensor2d(transpose4(op.weight, [op.outputs, c!, h, w], [2, 3, 1, 0]), [inputs, op.outputs]);
  const bias = tf.tensor1d(op.bias);
  held.push(b, bias);
  return (x) => tf.fused.matMul({ a: x.reshape([x.shape[0]!, inputs]), b, bias, activation });
}

/** The ops as tfjs steps, named after their layer; the weight tensors they hold are added to `held`. */
function buildSteps(ops: readonly NetOp[], held: tf.Tensor[]): { step: Step; name: string }[] {
  const steps: { step: Step; name: string }[] = [];
  /** The activation op i is, if tfjs can fuse it into the layer before. */
  const fusable = (i: number): Activation => {
    const op = ops[i];
    if (op?.kind === 'relu') return 'relu';
    return op?.kind === 'clip' && op.min === 0 && op.max === 6 ? 'relu6' : 'linear';
  };
  const fused = (i: number): boolean => fusable(i) !== 'linear' && (ops[i - 1]?.kind === 'conv' || ops[i - 1]?.kind === 'fc');
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    switch (op.kind) {
      case 'conv':
        steps.push({ step: convolution(op, fusable(i + 1), held), name: op.name });
        break;
      case 'fc':
        steps.push({ step: fullyConnected(op, fusable(i + 1), held), name: op.name });
        break;
      case 'relu':
        // Fused into the convolution or fc before it (every ReLU in CaffeNet follows one).
        if (!fused(i)) steps.push({ step: (x) => tf.relu(x), name: op.name });
        break;
      case 'clip':
        if (!fused(i)) steps.push({ step: (x) => tf.clipByValue(x, op.min, op.max), name: op.name });
        break;
      case 'globalAvgPool':
        steps.push({ step: (x) => tf.mean(x, [1, 2]), name: op.name });
        break;
      case 'maxPool':
        steps.push({ step: (x) => tf.maxPool(x as tf.Tensor4D, op.kernel, op.stride, 'valid'), name: op.name });
        break;
      case 'lrn':
        // tfjs scales the sum of squares by alpha itself, over depthRadius channels on each side: Caffe's alpha / size.
        steps.push({ step: (x) => tf.localResponseNormalization(x as tf.Tensor4D, (op.size - 1) / 2, op.k, op.alpha / op.size, op.beta), name: op.name });
        break;
      case 'softmax':
        steps.push({ step: (x) => tf.softmax(x), name: op.name });
        break;
    }
  }
  return steps;
}

/**
 * The net in TensorFlow.js ops, NHWC, on the `cpu` backend (plain JavaScript kernels) or the
 * `wasm` backend (XNNPACK; single-threaded under Node, where tfjs does not enable its threads).
 */
export async function tfjsRunner(backend: 'cpu' | 'wasm', setup: RunnerSetup): Promise<Runner> {
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not start`);
  const held: tf.Tensor[] = [];
  const steps = buildSteps(setup.ops, held);
  const { imageShape, logits } = setup.model;
  const [channels, height, width] = imageShape;
  const input = tf.tensor4d(transpose4(setup.images, [setup.batch, channels, height, width], [0, 2, 3, 1]), [setup.batch, height, width, channels]);
  held.push(input);
  const run = (): { logits: tf.Tensor; prob: tf.Tensor } =>
    tf.tidy(() => {
      let x: tf.Tensor = input;
      let found: tf.Tensor | undefined;
      for (const { step, name } of steps) {
        x = step(x);
        if (name === logits) found = x;
      }
      if (!found) throw new Error(`the net has no ${logits}`);
      return { logits: found, prob: x };
    });
  return {
    async: false,
    forward() {
      const outputs = run();
      outputs.prob.dataSync(); // the cpu and wasm backends compute eagerly; this reads the result back
      tf.dispose([outputs.logits, outputs.prob]);
    },
    async outputs() {
      const outputs = run();
      const result = { logits: Float32Array.from(await outputs.logits.data()), prob: Float32Array.from(await outputs.prob.data()) };
      tf.dispose([outputs.logits, outputs.prob]);
      return result;
    },
    async dispose() {
      tf.dispose(held);
    },
  };
}
