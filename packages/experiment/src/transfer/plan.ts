import type { LayerDef, Net, NetDef } from '@cnn/nn';
import { ExperimentError } from '../errors.js';

/** How a pretrained classification net is cut into a frozen base and a head to retrain. */
export interface TransferPlan {
  /** The last layer of the frozen base; its top holds the cached features. */
  cutLayer: string;
  /** The blob at the cut (CaffeNet: pool5, [N, 256, 6, 6]). */
  cutBlob: string;
  /** The shape of one feature vector at the cut (without the batch axis). */
  featureShape: number[];
  /** The layer the experiment replaces with one of the right number of classes (CaffeNet: fc8). */
  classifier: string;
  /** Its replacement's name, as Caffe's fine-tuning recipe renames it (fc8 -> fc8_new). */
  newClassifier: string;
  /** The blob the classifier reads: the penultimate features of the t-SNE map (CaffeNet: fc7). */
  penultimateBlob: string;
  /** The head's layers from the model, after the cut, classifier included (replaced). */
  headLayers: LayerDef[];
  /** The base's layers, up to and including the cut. */
  baseLayers: LayerDef[];
  /** The first convolutional layer, whose filters the report draws. */
  firstConvolution?: string;
  /** The net's input blob and its shape [N, C, H, W]. */
  input: { blob: string; shape: number[] };
}

const OUTPUT_TYPES = new Set(['Softmax', 'SoftmaxWithLoss', 'Accuracy']);

/**
 * Finds the cut and the head of a classification net. By default the base is every
 * layer up to the last Pooling layer before the first InnerProduct (CaffeNet: pool5;
 * MobileNet: the global average pool); `freezeUntil` names another cut layer. The
 * classifier is the last layer with parameters before the output layers.
 */
export function planTransfer(def: NetDef, net: Net, numClasses: number, freezeUntil?: string): TransferPlan {
  const layers = net.layerDefs.filter((layer) => layer.type !== 'Split');
  const inputLayer = layers.find((layer) => layer.type === 'Input');
  if (!inputLayer?.top?.[0]) throw new ExperimentError(`model '${def.name ?? 'net'}' has no Input layer (or input: declaration) to feed images into`);
  const inputBlob = inputLayer.top[0];

  let cutIndex: number;
  if (freezeUntil !== undefined) {
    cutIndex = layers.findIndex((layer) => layer.name === freezeUntil);
    if (cutIndex < 0) throw new ExperimentError(`--freeze-until ${freezeUntil}: the model has no such layer; layers: ${layers.map((l) => l.name).join(', ')}`);
  } else {
    const firstFc = layers.findIndex((layer) => layer.type === 'InnerProduct');
    if (firstFc < 0) throw new ExperimentError(`model '${def.name ?? 'net'}' has no InnerProduct layer: name the cut with --freeze-until`);
    cutIndex = layers.slice(0, firstFc).map((layer) => layer.type).lastIndexOf('Pooling');
    if (cutIndex < 0) throw new ExperimentError(`model '${def.name ?? 'net'}' has no Pooling layer before its first InnerProduct: name the cut with --freeze-until`);
  }
  // In-place layers right after the cut (a ReLU on the pooled map) belong to the base.
  const cutBlob = layers[cutIndex]!.top![0]!;
  while (layers[cutIndex + 1] && layers[cutIndex + 1]!.bottom?.[0] === cutBlob && layers[cutIndex + 1]!.top?.[0] === cutBlob) cutIndex++;

  const outputs = layers.findIndex((layer, i) => i > cutIndex && OUTPUT_TYPES.has(layer.type));
  const headEnd = outputs < 0 ? layers.length : outputs;
  const head = layers.slice(cutIndex + 1, headEnd);
  const classifierIndex = head.map((layer) => net.layer(layer.name).params.length > 0).lastIndexOf(true);
  if (classifierIndex < 0) throw new ExperimentError(`model '${def.name ?? 'net'}' has no layer with weights after the cut at '${layers[cutIndex]!.name}' to retrain`);
  const classifier = head[classifierIndex]!;
  const newClassifier = `${classifier.name}_new`;
  const headLayers = head.slice(0, classifierIndex + 1).map((layer) => (layer === classifier ? replaceClassifier(layer, newClassifier, numClasses) : layer));
  const firstConvolution = layers.slice(0, cutIndex + 1).find((layer) => layer.type === 'Convolution')?.name;

  return {
    cutLayer: layers[cutIndex]!.name,
    cutBlob,
    featureShape: net.blob(cutBlob).shape.slice(1),
    classifier: classifier.name,
    newClassifier,
    penultimateBlob: classifier.bottom![0]!,
    headLayers,
    baseLayers: layers.slice(0, cutIndex + 1),
    firstConvolution,
    input: { blob: inputBlob, shape: [...net.blob(inputBlob).shape] },
  };
}

/**
 * The classifier with `numClasses` outputs under a new name (so no pretrained weights
 * are copied into it), learning 10x / 20x faster than the pretrained layers, as in
 * Caffe's fine-tuning examples.
 */
function replaceClassifier(layer: LayerDef, name: string, numClasses: number): LayerDef {
  const filler = { weightFiller: { type: 'gaussian', std: 0.01 }, biasFiller: { type: 'constant', value: 0 } } as const;
  const param = [{ lrMult: 10, decayMult: 1 }, { lrMult: 20, decayMult: 0 }];
  if (layer.type === 'Convolution') return { ...layer, name, param, convolution: { ...layer.convolution, numOutput: numClasses, ...filler } };
  if (layer.type === 'InnerProduct') return { ...layer, name, param, innerProduct: { ...layer.innerProduct, numOutput: numClasses, ...filler } };
  throw new ExperimentError(`the classifier '${layer.name}' is a ${layer.type} layer: only a Convolution or InnerProduct classifier can be replaced`);
}
