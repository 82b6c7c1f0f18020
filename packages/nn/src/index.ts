// The network: blobs, layers, nets, solvers.
export { Blob, Param, type ParamSpec } from './blob.js';
export { Layer, type Phase, type SetupContext, type PretrainedSource } from './layer.js';
export { LayerError, NetError } from './errors.js';
export { Net, type NetOptions, type LayerFactory, type LayerSummary, type ForwardRange, type MemoryEstimate } from './net.js';
export { layerIncluded, stateMeetsRule, type LayerDef, type NetDef, type NetState, type NetStateRule } from './net-def.js';
export { createLayer, supportedLayerTypes } from './registry.js';
export { Solver, type SolverParams, type SolverSnapshot, type LrPolicy, type IterationInfo } from './solver.js';
export { encodeSnapshot, decodeSnapshot, saveSnapshot, loadSnapshot } from './snapshot-file.js';
export { caffeNet, alexNet, type ImageNetModelOptions } from './models.js';

// Layers, one per Caffe type.
export { AccuracyLayer, type AccuracyParams } from './layers/accuracy.js';
export { BatchNormLayer, type BatchNormParams } from './layers/batch-norm.js';
export { ClipLayer, type ClipParams } from './layers/clip.js';
export { ConcatLayer, type ConcatParams } from './layers/concat.js';
export { ConvolutionLayer, type ConvolutionParams } from './layers/convolution.js';
export { DropoutLayer, type DropoutParams } from './layers/dropout.js';
export { EltwiseLayer, type EltwiseParams } from './layers/eltwise.js';
export { FlattenLayer, type FlattenParams } from './layers/flatten.js';
export { InnerProductLayer, type InnerProductParams } from './layers/inner-product.js';
export { InputLayer, type InputParams } from './layers/input.js';
export { LRNLayer, type LRNParams } from './layers/lrn.js';
export { PoolingLayer, type PoolingParams } from './layers/pooling.js';
export { PReLULayer, type PReLUParams } from './layers/prelu.js';
export { ReLULayer, type ReLUParams } from './layers/relu.js';
export { ScaleLayer, type ScaleParams } from './layers/scale.js';
export { SoftmaxLayer, type SoftmaxParams } from './layers/softmax.js';
export { SoftmaxWithLossLayer, type SoftmaxWithLossParams, type LossParams, type NormalizationMode } from './layers/softmax-with-loss.js';
export { SplitLayer } from './layers/split.js';

// Kernels: the reference (readable) and fast versions side by side.
export * from './kernels/convolution.js';
export { convolutionForwardWinograd, winogradApplies, winogradForwardPart } from './kernels/winograd.js';
export { updatePart } from './kernels/solver-update.js';
export { depthwiseForwardPart, depthwiseBackwardPart } from './kernels/depthwise/depthwise.js';
export * from './kernels/inner-product.js';
export * from './kernels/pooling.js';
export * from './kernels/lrn.js';

// Testing helpers for people writing their own layers.
export { checkGradients, blobOf, randomBlob, type GradientCheckOptions, type GradientCheckResult, type GradientMismatch } from './testing/gradient-check.js';
