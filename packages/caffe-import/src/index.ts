/**
 * @cnn/caffe-import: the Caffe file formats. Binary `.caffemodel` and `.binaryproto` files are
 * walked in protobuf wire format with blob payloads as Float32Array views; `.prototxt` nets and
 * solvers are parsed from protobuf text format; V1 nets are upgraded to V2 as Caffe does; nets are
 * written back as `.caffemodel` (V2, or the legacy V1 layout) and `.prototxt`.
 */
export { CaffeFormatError, type CaffeErrorLocation } from './errors.js';
export {
  blobShape,
  blobShapeMatches,
  enumDef,
  enumTypeNames,
  fieldValue,
  hasLegacyDims,
  messageDef,
  messageTypeNames,
  shapeCount,
  V1_TYPE_TO_V2,
  type AccuracyParameter,
  type BatchNormParameter,
  type BlobProto,
  type BlobShape,
  type ClipParameter,
  type ConcatParameter,
  type ConvolutionParameter,
  type DataParameter,
  type DropoutParameter,
  type EltwiseParameter,
  type EnumDef,
  type FieldDef,
  type FillerParameter,
  type FlattenParameter,
  type ImageDataParameter,
  type InnerProductParameter,
  type InputParameter,
  type LayerParameter,
  type LayerParams,
  type LossParameter,
  type LRNParameter,
  type MessageDef,
  type NetParameter,
  type NetState,
  type NetStateRule,
  type ParamRecord,
  type ParamSpec,
  type Phase,
  type PoolingParameter,
  type PReLUParameter,
  type ReLUParameter,
  type ScalarKind,
  type ScaleParameter,
  type SoftmaxParameter,
  type SolverParameter,
  type SolverState,
  type TransformationParameter,
  type V1LayerParameter,
} from './schema.js';
export { decodeMessage, readCaffemodel, readCaffemodelFile } from './caffemodel.js';
export { readBinaryproto, readBinaryprotoFile } from './binaryproto.js';
export {
  decodeTextFile,
  parseNetPrototxt,
  parsePrototxt,
  parseSolverPrototxt,
  readNetPrototxtFile,
  readPrototxtFile,
  readSolverPrototxtFile,
} from './prototxt.js';
export { upgradeNetParameter, upgradeSolverParameter, type UpgradeResult } from './upgrade.js';
export {
  downgradeToV1,
  encodeMessage,
  formatPrototxt,
  writeCaffemodel,
  writeCaffemodelFile,
  writePrototxtFile,
  type FormatPrototxtOptions,
  type WriteCaffemodelOptions,
} from './writer.js';
export { buildNet, toNetDef, toLayerDef, blobFits, type WeightReport } from './build.js';
export { loadModel, readFileShared, type LoadedModel, type LoadModelOptions } from './model.js';
export { toNetParameter } from './export.js';
