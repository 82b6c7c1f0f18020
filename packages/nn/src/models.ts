import type { FillerSpec } from '@cnn/tensor';
import type { LayerDef, NetDef } from './net-def.js';

/** Options of the CaffeNet and AlexNet builders. */
export interface ImageNetModelOptions {
  /** Classes of the last layer (1000 for ImageNet). */
  numClasses?: number;
  /** Batch size of the input blob. */
  batch?: number;
  /** Input height and width (227 for the reference models). */
  inputSize?: number;
  /**
   * `deploy` (default) ends in a Softmax `prob`; `train` adds a `label` input, a
   * SoftmaxWithLoss `loss` and an Accuracy `accuracy` (TEST phase only), as train_val.prototxt.
   */
  head?: 'deploy' | 'train';
}

const gaussian = (std: number): FillerSpec => ({ type: 'gaussian', std });
const constant = (value: number): FillerSpec => ({ type: 'constant', value });
/** Weights learn at the base rate with weight decay; biases at twice the rate, without decay. */
const learnable = [
  { lrMult: 1, decayMult: 1 },
  { lrMult: 2, decayMult: 0 },
];

function conv(name: string, bottom: string, numOutput: number, kernelSize: number, extra: Record<string, unknown>, biasValue: number): LayerDef {
  return {
    name,
    type: 'Convolution',
    bottom: [bottom],
    top: [name],
    param: learnable,
    convolution: { numOutput, kernelSize, ...extra, weightFiller: gaussian(0.01), biasFiller: constant(biasValue) },
  };
}

function relu(name: string, blob: string): LayerDef {
  return { name, type: 'ReLU', bottom: [blob], top: [blob] };
}

function maxPool(name: string, bottom: string): LayerDef {
  return { name, type: 'Pooling', bottom: [bottom], top: [name], pooling: { pool: 'MAX', kernelSize: 3, stride: 2 } };
}

function lrn(name: string, bottom: string): LayerDef {
  return { name, type: 'LRN', bottom: [bottom], top: [name], lrn: { localSize: 5, alpha: 0.0001, beta: 0.75 } };
}

function fc(name: string, bottom: string, numOutput: number, std: number, biasValue: number): LayerDef {
  return {
    name,
    type: 'InnerProduct',
    bottom: [bottom],
    top: [name],
    param: learnable,
    innerProduct: { numOutput, weightFiller: gaussian(std), biasFiller: constant(biasValue) },
  };
}

function dropout(name: string, blob: string): LayerDef {
  return { name, type: 'Dropout', bottom: [blob], top: [blob], dropout: { dropoutRatio: 0.5 } };
}

/**
 * The five convolutional stages. CaffeNet pools before it normalises (pool1 -> norm1);
 * AlexNet, as published, normalises first (norm1 -> pool1).
 */
function base(order: 'pool-norm' | 'norm-pool'): LayerDef[] {
  const stage = (n: number, input: string): [LayerDef[], string] => {
    const [first, second] = order === 'pool-norm' ? [maxPool(`pool${n}`, input), lrn(`norm${n}`, `pool${n}`)] : [lrn(`norm${n}`, input), maxPool(`pool${n}`, `norm${n}`)];
    return [[first, second], second.name];
  };
  const [stage1, out1] = stage(1, 'conv1');
  const [stage2, out2] = stage(2, 'conv2');
  return [
    conv('conv1', 'data', 96, 11, { stride: 4 }, 0),
    relu('relu1', 'conv1'),
    ...stage1,
    conv('conv2', out1, 256, 5, { pad: 2, group: 2 }, 1),
    relu('relu2', 'conv2'),
    ...stage2,
    conv('conv3', out2, 384, 3, { pad: 1 }, 0),
    relu('relu3', 'conv3'),
    conv('conv4', 'conv3', 384, 3, { pad: 1, group: 2 }, 1),
    relu('relu4', 'conv4'),
    conv('conv5', 'conv4', 256, 3, { pad: 1, group: 2 }, 1),
    relu('relu5', 'conv5'),
    maxPool('pool5', 'conv5'),
  ];
}

function imageNetModel(name: string, order: 'pool-norm' | 'norm-pool', options: ImageNetModelOptions): NetDef {
  const { numClasses = 1000, batch = 1, inputSize = 227, head = 'deploy' } = options;
  const shape = [{ dim: [batch, 3, inputSize, inputSize] }];
  const inputs: LayerDef =
    head === 'train'
      ? { name: 'data', type: 'Input', top: ['data', 'label'], input: { shape: [...shape, { dim: [batch] }] } }
      : { name: 'data', type: 'Input', top: ['data'], input: { shape } };
  const outputs: LayerDef[] =
    head === 'train'
      ? [
          { name: 'accuracy', type: 'Accuracy', bottom: ['fc8', 'label'], top: ['accuracy'], include: [{ phase: 'TEST' }] },
          { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['fc8', 'label'], top: ['loss'] },
        ]
      : [{ name: 'prob', type: 'Softmax', bottom: ['fc8'], top: ['prob'] }];
  return {
    name,
    layers: [
      inputs,
      ...base(order),
      fc('fc6', 'pool5', 4096, 0.005, 1),
      relu('relu6', 'fc6'),
      dropout('drop6', 'fc6'),
      fc('fc7', 'fc6', 4096, 0.005, 1),
      relu('relu7', 'fc7'),
      dropout('drop7', 'fc7'),
      fc('fc8', 'fc7', numClasses, 0.01, 0),
      ...outputs,
    ],
  };
}

/**
 * The BVLC reference CaffeNet (models/bvlc_reference_caffenet): AlexNet with pooling
 * before normalisation, with the exact layer hyperparameters, fillers and lr/decay
 * multipliers of its train_val.prototxt. 60,965,224 parameters at 1000 classes.
 */
export function caffeNet(options: ImageNetModelOptions = {}): NetDef {
  return imageNetModel('CaffeNet', 'pool-norm', options);
}

/** AlexNet as published (BVLC bvlc_alexnet): like CaffeNet, but normalisation before pooling. */
export function alexNet(options: ImageNetModelOptions = {}): NetDef {
  return imageNetModel('AlexNet', 'norm-pool', options);
}
