// The network: blobs, layers, nets, solvers.
export { Blob, Param, type ParamSpec } from './blob.js';
export { Layer, type Phase, type SetupContext, type PretrainedSource } from './layer.js';
export { LayerError, NetError } from './errors.js';
export { Net, type NetOptions, type LayerFactory, type LayerSummary, type ForwardRange, type MemoryEstimate } from './net.js';
export { layerIncluded, stateMeetsRule, type LayerCommon, type LayerDef, type LayerDefOf, type LayerParamsByType, type LayerType, type NetDef, type NetState, type NetStateRule } from './net-def.js';
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

// Kernels, one folder per family: the reference (readable), the fast TypeScript and the wasm
// versions side by side, and the table the backend in use picks from (see the README's
// "Adding a kernel"). The pool jobs are exported too, for a page's pool workers (servePoolWorker).
export * from './kernels/convolution/index.js';
export { convolutionForwardWinograd, winogradApplies, winogradForwardJob } from './kernels/winograd/fast.js';
export * from './kernels/winograd/index.js';
export * from './kernels/depthwise/index.js';
export { depthwiseBackwardJob, depthwiseForwardJob } from './kernels/depthwise/fast.js';
export { depthwiseBackwardWasmJob, depthwiseForwardWasmJob } from './kernels/depthwise/wasm.js';
export { directForward, directForwardJob } from './kernels/direct/fast.js';
export { pointwiseForward, pointwiseForwardJob } from './kernels/pointwise/fast.js';
export * from './kernels/inner-product/index.js';
export * from './kernels/pooling/index.js';
export { poolingBackwardJob, poolingForwardJob } from './kernels/pooling/fast.js';
export { poolingForwardWasmJob } from './kernels/pooling/wasm.js';
export * from './kernels/lrn/index.js';
export { lrnBackwardJob, lrnForwardJob } from './kernels/lrn/fast.js';
export { lrnBackwardWasmJob, lrnForwardWasmJob } from './kernels/lrn/wasm.js';
export * from './kernels/relu/index.js';
export * from './kernels/clip/index.js';
export * from './kernels/solver-update/index.js';
export { updateJob } from './kernels/solver-update/fast.js';
export { updateWasmJob } from './kernels/solver-update/wasm.js';

// Testing helpers for people writing their own layers.
export { checkGradients, blobOf, randomBlob, type GradientCheckOptions, type GradientCheckResult, type GradientMismatch } from './testing/gradient-check.js';
