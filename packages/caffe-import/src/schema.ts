/**
 * Our own description of the Caffe protobuf messages this package reads and writes: field numbers,
 * types, labels and proto2 defaults, written from the facts of BVLC caffe.proto. Unknown binary
 * fields are skipped, unknown text fields are errors (as in Caffe), so a message only needs the
 * fields that real files use; the common ones are all here.
 *
 * Decoded messages are plain objects keyed by Caffe's snake_case field names: repeated fields are
 * arrays (absent when empty), enums are their names, 64-bit integers are numbers, nested messages
 * are objects, and an optional field that was not set is absent, so "set to the default" and
 * "not set" stay distinguishable (Caffe relies on it: `pad` vs `pad_h`).
 */

/** Scalar protobuf types used by caffe.proto. */
export type ScalarKind = 'double' | 'float' | 'int32' | 'int64' | 'uint32' | 'uint64' | 'bool' | 'string';

/** One field of a message. */
export interface FieldDef {
  readonly id: number;
  readonly name: string;
  readonly kind: ScalarKind | 'enum' | 'message';
  /** The enum or message type name for `enum` / `message` fields. */
  readonly type?: string;
  readonly repeated: boolean;
  /** Repeated scalars written packed (Caffe marks only blob payloads and `BlobShape.dim` so). */
  readonly packed: boolean;
  /** The proto2 default, when Caffe declares one. */
  readonly default?: number | string | boolean;
}

/** A message type: its fields in field-number order and lookups by number and name. */
export interface MessageDef {
  readonly name: string;
  readonly fields: readonly FieldDef[];
  readonly byId: ReadonlyMap<number, FieldDef>;
  readonly byName: ReadonlyMap<string, FieldDef>;
  /** Contents never interpreted (a V0 layer): skipped in binary and text, kept as `{}`. */
  readonly opaque: boolean;
}

/** An enum type: value names to numbers and back. */
export interface EnumDef {
  readonly name: string;
  readonly values: Readonly<Record<string, number>>;
  readonly byNumber: ReadonlyMap<number, string>;
}

const opt = (id: number, name: string, kind: ScalarKind, dflt?: number | string | boolean): FieldDef => ({
  id, name, kind, repeated: false, packed: false, ...(dflt !== undefined ? { default: dflt } : {}),
});
const rep = (id: number, name: string, kind: ScalarKind): FieldDef => ({ id, name, kind, repeated: true, packed: false });
const packed = (id: number, name: string, kind: ScalarKind): FieldDef => ({ id, name, kind, repeated: true, packed: true });
const msg = (id: number, name: string, type: string): FieldDef => ({ id, name, kind: 'message', type, repeated: false, packed: false });
const msgs = (id: number, name: string, type: string): FieldDef => ({ id, name, kind: 'message', type, repeated: true, packed: false });
const en = (id: number, name: string, type: string, dflt?: string): FieldDef => ({
  id, name, kind: 'enum', type, repeated: false, packed: false, ...(dflt !== undefined ? { default: dflt } : {}),
});
const ens = (id: number, name: string, type: string): FieldDef => ({ id, name, kind: 'enum', type, repeated: true, packed: false });

const ENUMS: Record<string, Record<string, number>> = {
  Phase: { TRAIN: 0, TEST: 1 },
  DimCheckMode: { STRICT: 0, PERMISSIVE: 1 },
  VarianceNorm: { FAN_IN: 0, FAN_OUT: 1, AVERAGE: 2 },
  NormalizationMode: { FULL: 0, VALID: 1, BATCH_SIZE: 2, NONE: 3 },
  DB: { LEVELDB: 0, LMDB: 1 },
  Engine: { DEFAULT: 0, CAFFE: 1, CUDNN: 2 },
  EltwiseOp: { PROD: 0, SUM: 1, MAX: 2 },
  HingeNorm: { L1: 1, L2: 2 },
  NormRegion: { ACROSS_CHANNELS: 0, WITHIN_CHANNEL: 1 },
  PoolMethod: { MAX: 0, AVE: 1, STOCHASTIC: 2 },
  RoundMode: { CEIL: 0, FLOOR: 1 },
  ReductionOp: { SUM: 1, ASUM: 2, SUMSQ: 3, MEAN: 4 },
  SnapshotFormat: { HDF5: 0, BINARYPROTO: 1 },
  SolverMode: { CPU: 0, GPU: 1 },
  SolverType: { SGD: 0, NESTEROV: 1, ADAGRAD: 2, RMSPROP: 3, ADADELTA: 4, ADAM: 5 },
  V1LayerType: {
    NONE: 0, ABSVAL: 35, ACCURACY: 1, ARGMAX: 30, BNLL: 2, CONCAT: 3, CONTRASTIVE_LOSS: 37,
    CONVOLUTION: 4, DATA: 5, DECONVOLUTION: 39, DROPOUT: 6, DUMMY_DATA: 32, EUCLIDEAN_LOSS: 7,
    ELTWISE: 25, EXP: 38, FLATTEN: 8, HDF5_DATA: 9, HDF5_OUTPUT: 10, HINGE_LOSS: 28, IM2COL: 11,
    IMAGE_DATA: 12, INFOGAIN_LOSS: 13, INNER_PRODUCT: 14, LRN: 15, MEMORY_DATA: 29,
    MULTINOMIAL_LOGISTIC_LOSS: 16, MVN: 34, POOLING: 17, POWER: 26, RELU: 18, SIGMOID: 19,
    SIGMOID_CROSS_ENTROPY_LOSS: 27, SILENCE: 36, SOFTMAX: 20, SOFTMAX_LOSS: 21, SPLIT: 22,
    SLICE: 33, TANH: 23, WINDOW_DATA: 24, THRESHOLD: 31,
  },
};

// The `*_param` sub-messages a LayerParameter can carry, with their V2 field numbers.
const LAYER_PARAMS: [number, string, string][] = [
  [100, 'transform_param', 'TransformationParameter'],
  [101, 'loss_param', 'LossParameter'],
  [102, 'accuracy_param', 'AccuracyParameter'],
  [103, 'argmax_param', 'ArgMaxParameter'],
  [104, 'concat_param', 'ConcatParameter'],
  [105, 'contrastive_loss_param', 'ContrastiveLossParameter'],
  [106, 'convolution_param', 'ConvolutionParameter'],
  [107, 'data_param', 'DataParameter'],
  [108, 'dropout_param', 'DropoutParameter'],
  [109, 'dummy_data_param', 'DummyDataParameter'],
  [110, 'eltwise_param', 'EltwiseParameter'],
  [111, 'exp_param', 'ExpParameter'],
  [112, 'hdf5_data_param', 'HDF5DataParameter'],
  [113, 'hdf5_output_param', 'HDF5OutputParameter'],
  [114, 'hinge_loss_param', 'HingeLossParameter'],
  [115, 'image_data_param', 'ImageDataParameter'],
  [116, 'infogain_loss_param', 'InfogainLossParameter'],
  [117, 'inner_product_param', 'InnerProductParameter'],
  [118, 'lrn_param', 'LRNParameter'],
  [119, 'memory_data_param', 'MemoryDataParameter'],
  [120, 'mvn_param', 'MVNParameter'],
  [121, 'pooling_param', 'PoolingParameter'],
  [122, 'power_param', 'PowerParameter'],
  [123, 'relu_param', 'ReLUParameter'],
  [124, 'sigmoid_param', 'SigmoidParameter'],
  [125, 'softmax_param', 'SoftmaxParameter'],
  [126, 'slice_param', 'SliceParameter'],
  [127, 'tanh_param', 'TanHParameter'],
  [128, 'threshold_param', 'ThresholdParameter'],
  [129, 'window_data_param', 'WindowDataParameter'],
  [130, 'python_param', 'PythonParameter'],
  [131, 'prelu_param', 'PReLUParameter'],
  [132, 'spp_param', 'SPPParameter'],
  [133, 'reshape_param', 'ReshapeParameter'],
  [134, 'log_param', 'LogParameter'],
  [135, 'flatten_param', 'FlattenParameter'],
  [136, 'reduction_param', 'ReductionParameter'],
  [137, 'embed_param', 'EmbedParameter'],
  [138, 'tile_param', 'TileParameter'],
  [139, 'batch_norm_param', 'BatchNormParameter'],
  [140, 'elu_param', 'ELUParameter'],
  [141, 'bias_param', 'BiasParameter'],
  [142, 'scale_param', 'ScaleParameter'],
  [143, 'input_param', 'InputParameter'],
  [144, 'crop_param', 'CropParameter'],
  [145, 'parameter_param', 'ParameterParameter'],
  [146, 'recurrent_param', 'RecurrentParameter'],
  [147, 'swish_param', 'SwishParameter'],
  [148, 'clip_param', 'ClipParameter'],
];

// The same sub-messages in the legacy V1LayerParameter, under other field numbers.
const V1_LAYER_PARAMS: [number, string, string][] = [
  [9, 'concat_param', 'ConcatParameter'],
  [10, 'convolution_param', 'ConvolutionParameter'],
  [11, 'data_param', 'DataParameter'],
  [12, 'dropout_param', 'DropoutParameter'],
  [13, 'hdf5_data_param', 'HDF5DataParameter'],
  [14, 'hdf5_output_param', 'HDF5OutputParameter'],
  [15, 'image_data_param', 'ImageDataParameter'],
  [16, 'infogain_loss_param', 'InfogainLossParameter'],
  [17, 'inner_product_param', 'InnerProductParameter'],
  [18, 'lrn_param', 'LRNParameter'],
  [19, 'pooling_param', 'PoolingParameter'],
  [20, 'window_data_param', 'WindowDataParameter'],
  [21, 'power_param', 'PowerParameter'],
  [22, 'memory_data_param', 'MemoryDataParameter'],
  [23, 'argmax_param', 'ArgMaxParameter'],
  [24, 'eltwise_param', 'EltwiseParameter'],
  [25, 'threshold_param', 'ThresholdParameter'],
  [26, 'dummy_data_param', 'DummyDataParameter'],
  [27, 'accuracy_param', 'AccuracyParameter'],
  [29, 'hinge_loss_param', 'HingeLossParameter'],
  [30, 'relu_param', 'ReLUParameter'],
  [31, 'slice_param', 'SliceParameter'],
  [34, 'mvn_param', 'MVNParameter'],
  [36, 'transform_param', 'TransformationParameter'],
  [37, 'tanh_param', 'TanHParameter'],
  [38, 'sigmoid_param', 'SigmoidParameter'],
  [39, 'softmax_param', 'SoftmaxParameter'],
  [40, 'contrastive_loss_param', 'ContrastiveLossParameter'],
  [41, 'exp_param', 'ExpParameter'],
  [42, 'loss_param', 'LossParameter'],
];

const MESSAGES: Record<string, FieldDef[]> = {
  BlobShape: [packed(1, 'dim', 'int64')],
  BlobProto: [
    opt(1, 'num', 'int64', 0), opt(2, 'channels', 'int64', 0), opt(3, 'height', 'int64', 0), opt(4, 'width', 'int64', 0),
    packed(5, 'data', 'float'), packed(6, 'diff', 'float'), msg(7, 'shape', 'BlobShape'),
    packed(8, 'double_data', 'double'), packed(9, 'double_diff', 'double'),
  ],
  BlobProtoVector: [msgs(1, 'blobs', 'BlobProto')],
  FillerParameter: [
    opt(1, 'type', 'string', 'constant'), opt(2, 'value', 'float', 0), opt(3, 'min', 'float', 0), opt(4, 'max', 'float', 1),
    opt(5, 'mean', 'float', 0), opt(6, 'std', 'float', 1), opt(7, 'sparse', 'int32', -1),
    en(8, 'variance_norm', 'VarianceNorm', 'FAN_IN'),
  ],
  NetParameter: [
    opt(1, 'name', 'string'), msgs(2, 'layers', 'V1LayerParameter'), rep(3, 'input', 'string'), rep(4, 'input_dim', 'int32'),
    opt(5, 'force_backward', 'bool', false), msg(6, 'state', 'NetState'), opt(7, 'debug_info', 'bool', false),
    msgs(8, 'input_shape', 'BlobShape'), msgs(100, 'layer', 'LayerParameter'),
  ],
  SolverParameter: [
    opt(1, 'train_net', 'string'), rep(2, 'test_net', 'string'), rep(3, 'test_iter', 'int32'), opt(4, 'test_interval', 'int32', 0),
    opt(5, 'base_lr', 'float'), opt(6, 'display', 'int32'), opt(7, 'max_iter', 'int32'), opt(8, 'lr_policy', 'string'),
    opt(9, 'gamma', 'float'), opt(10, 'power', 'float'), opt(11, 'momentum', 'float'), opt(12, 'weight_decay', 'float'),
    opt(13, 'stepsize', 'int32'), opt(14, 'snapshot', 'int32', 0), opt(15, 'snapshot_prefix', 'string'),
    opt(16, 'snapshot_diff', 'bool', false), en(17, 'solver_mode', 'SolverMode', 'GPU'), opt(18, 'device_id', 'int32', 0),
    opt(19, 'test_compute_loss', 'bool', false), opt(20, 'random_seed', 'int64', -1), msg(21, 'train_net_param', 'NetParameter'),
    msgs(22, 'test_net_param', 'NetParameter'), opt(23, 'debug_info', 'bool', false), opt(24, 'net', 'string'),
    msg(25, 'net_param', 'NetParameter'), msg(26, 'train_state', 'NetState'), msgs(27, 'test_state', 'NetState'),
    opt(28, 'snapshot_after_train', 'bool', true), opt(29, 'regularization_type', 'string', 'L2'),
    en(30, 'solver_type', 'SolverType', 'SGD'), opt(31, 'delta', 'float', 1e-8), opt(32, 'test_initialization', 'bool', true),
    opt(33, 'average_loss', 'int32', 1), rep(34, 'stepvalue', 'int32'), opt(35, 'clip_gradients', 'float', -1),
    opt(36, 'iter_size', 'int32', 1), en(37, 'snapshot_format', 'SnapshotFormat', 'BINARYPROTO'),
    opt(38, 'rms_decay', 'float', 0.99), opt(39, 'momentum2', 'float', 0.999), opt(40, 'type', 'string', 'SGD'),
    opt(41, 'layer_wise_reduce', 'bool', true), rep(42, 'weights', 'string'),
  ],
  SolverState: [
    opt(1, 'iter', 'int32'), opt(2, 'learned_net', 'string'), msgs(3, 'history', 'BlobProto'), opt(4, 'current_step', 'int32', 0),
  ],
  NetState: [en(1, 'phase', 'Phase', 'TEST'), opt(2, 'level', 'int32', 0), rep(3, 'stage', 'string')],
  NetStateRule: [
    en(1, 'phase', 'Phase'), opt(2, 'min_level', 'int32'), opt(3, 'max_level', 'int32'), rep(4, 'stage', 'string'),
    rep(5, 'not_stage', 'string'),
  ],
  ParamSpec: [
    opt(1, 'name', 'string'), en(2, 'share_mode', 'DimCheckMode'), opt(3, 'lr_mult', 'float', 1), opt(4, 'decay_mult', 'float', 1),
  ],
  LayerParameter: [
    opt(1, 'name', 'string'), opt(2, 'type', 'string'), rep(3, 'bottom', 'string'), rep(4, 'top', 'string'),
    rep(5, 'loss_weight', 'float'), msgs(6, 'param', 'ParamSpec'), msgs(7, 'blobs', 'BlobProto'),
    msgs(8, 'include', 'NetStateRule'), msgs(9, 'exclude', 'NetStateRule'), en(10, 'phase', 'Phase'),
    rep(11, 'propagate_down', 'bool'),
    ...LAYER_PARAMS.map(([id, name, type]) => msg(id, name, type)),
  ],
  V1LayerParameter: [
    msg(1, 'layer', 'V0LayerParameter'), rep(2, 'bottom', 'string'), rep(3, 'top', 'string'), opt(4, 'name', 'string'),
    en(5, 'type', 'V1LayerType'), msgs(6, 'blobs', 'BlobProto'), rep(7, 'blobs_lr', 'float'), rep(8, 'weight_decay', 'float'),
    msgs(32, 'include', 'NetStateRule'), msgs(33, 'exclude', 'NetStateRule'), rep(35, 'loss_weight', 'float'),
    rep(1001, 'param', 'string'), ens(1002, 'blob_share_mode', 'DimCheckMode'),
    ...V1_LAYER_PARAMS.map(([id, name, type]) => msg(id, name, type)),
  ],
  V0LayerParameter: [],
  TransformationParameter: [
    opt(1, 'scale', 'float', 1), opt(2, 'mirror', 'bool', false), opt(3, 'crop_size', 'uint32', 0), opt(4, 'mean_file', 'string'),
    rep(5, 'mean_value', 'float'), opt(6, 'force_color', 'bool', false), opt(7, 'force_gray', 'bool', false),
  ],
  LossParameter: [opt(1, 'ignore_label', 'int32'), opt(2, 'normalize', 'bool'), en(3, 'normalization', 'NormalizationMode', 'VALID')],
  AccuracyParameter: [opt(1, 'top_k', 'uint32', 1), opt(2, 'axis', 'int32', 1), opt(3, 'ignore_label', 'int32')],
  ArgMaxParameter: [opt(1, 'out_max_val', 'bool', false), opt(2, 'top_k', 'uint32', 1), opt(3, 'axis', 'int32')],
  BatchNormParameter: [
    opt(1, 'use_global_stats', 'bool'), opt(2, 'moving_average_fraction', 'float', 0.999), opt(3, 'eps', 'float', 1e-5),
  ],
  BiasParameter: [opt(1, 'axis', 'int32', 1), opt(2, 'num_axes', 'int32', 1), msg(3, 'filler', 'FillerParameter')],
  ClipParameter: [opt(1, 'min', 'float'), opt(2, 'max', 'float')],
  ConcatParameter: [opt(1, 'concat_dim', 'uint32', 1), opt(2, 'axis', 'int32', 1)],
  ContrastiveLossParameter: [opt(1, 'margin', 'float', 1), opt(2, 'legacy_version', 'bool', false)],
  ConvolutionParameter: [
    opt(1, 'num_output', 'uint32'), opt(2, 'bias_term', 'bool', true), rep(3, 'pad', 'uint32'), rep(4, 'kernel_size', 'uint32'),
    opt(5, 'group', 'uint32', 1), rep(6, 'stride', 'uint32'), msg(7, 'weight_filler', 'FillerParameter'),
    msg(8, 'bias_filler', 'FillerParameter'), opt(9, 'pad_h', 'uint32', 0), opt(10, 'pad_w', 'uint32', 0),
    opt(11, 'kernel_h', 'uint32'), opt(12, 'kernel_w', 'uint32'), opt(13, 'stride_h', 'uint32'), opt(14, 'stride_w', 'uint32'),
    en(15, 'engine', 'Engine', 'DEFAULT'), opt(16, 'axis', 'int32', 1), opt(17, 'force_nd_im2col', 'bool', false),
    rep(18, 'dilation', 'uint32'),
  ],
  CropParameter: [opt(1, 'axis', 'int32', 2), rep(2, 'offset', 'uint32')],
  DataParameter: [
    opt(1, 'source', 'string'), opt(2, 'scale', 'float', 1), opt(3, 'mean_file', 'string'), opt(4, 'batch_size', 'uint32'),
    opt(5, 'crop_size', 'uint32', 0), opt(6, 'mirror', 'bool', false), opt(7, 'rand_skip', 'uint32', 0),
    en(8, 'backend', 'DB', 'LEVELDB'), opt(9, 'force_encoded_color', 'bool', false), opt(10, 'prefetch', 'uint32', 4),
  ],
  DropoutParameter: [opt(1, 'dropout_ratio', 'float', 0.5)],
  DummyDataParameter: [
    msgs(1, 'data_filler', 'FillerParameter'), rep(2, 'num', 'uint32'), rep(3, 'channels', 'uint32'), rep(4, 'height', 'uint32'),
    rep(5, 'width', 'uint32'), msgs(6, 'shape', 'BlobShape'),
  ],
  EltwiseParameter: [en(1, 'operation', 'EltwiseOp', 'SUM'), rep(2, 'coeff', 'float'), opt(3, 'stable_prod_grad', 'bool', true)],
  ELUParameter: [opt(1, 'alpha', 'float', 1)],
  EmbedParameter: [
    opt(1, 'num_output', 'uint32'), opt(2, 'input_dim', 'uint32'), opt(3, 'bias_term', 'bool', true),
    msg(4, 'weight_filler', 'FillerParameter'), msg(5, 'bias_filler', 'FillerParameter'),
  ],
  ExpParameter: [opt(1, 'base', 'float', -1), opt(2, 'scale', 'float', 1), opt(3, 'shift', 'float', 0)],
  FlattenParameter: [opt(1, 'axis', 'int32', 1), opt(2, 'end_axis', 'int32', -1)],
  HDF5DataParameter: [opt(1, 'source', 'string'), opt(2, 'batch_size', 'uint32'), opt(3, 'shuffle', 'bool', false)],
  HDF5OutputParameter: [opt(1, 'file_name', 'string')],
  HingeLossParameter: [en(1, 'norm', 'HingeNorm', 'L1')],
  ImageDataParameter: [
    opt(1, 'source', 'string'), opt(2, 'scale', 'float', 1), opt(3, 'mean_file', 'string'), opt(4, 'batch_size', 'uint32', 1),
    opt(5, 'crop_size', 'uint32', 0), opt(6, 'mirror', 'bool', false), opt(7, 'rand_skip', 'uint32', 0),
    opt(8, 'shuffle', 'bool', false), opt(9, 'new_height', 'uint32', 0), opt(10, 'new_width', 'uint32', 0),
    opt(11, 'is_color', 'bool', true), opt(12, 'root_folder', 'string', ''),
  ],
  InfogainLossParameter: [opt(1, 'source', 'string'), opt(2, 'axis', 'int32', 1)],
  InnerProductParameter: [
    opt(1, 'num_output', 'uint32'), opt(2, 'bias_term', 'bool', true), msg(3, 'weight_filler', 'FillerParameter'),
    msg(4, 'bias_filler', 'FillerParameter'), opt(5, 'axis', 'int32', 1), opt(6, 'transpose', 'bool', false),
  ],
  InputParameter: [msgs(1, 'shape', 'BlobShape')],
  LogParameter: [opt(1, 'base', 'float', -1), opt(2, 'scale', 'float', 1), opt(3, 'shift', 'float', 0)],
  LRNParameter: [
    opt(1, 'local_size', 'uint32', 5), opt(2, 'alpha', 'float', 1), opt(3, 'beta', 'float', 0.75),
    en(4, 'norm_region', 'NormRegion', 'ACROSS_CHANNELS'), opt(5, 'k', 'float', 1), en(6, 'engine', 'Engine', 'DEFAULT'),
  ],
  MemoryDataParameter: [
    opt(1, 'batch_size', 'uint32'), opt(2, 'channels', 'uint32'), opt(3, 'height', 'uint32'), opt(4, 'width', 'uint32'),
  ],
  MVNParameter: [opt(1, 'normalize_variance', 'bool', true), opt(2, 'across_channels', 'bool', false), opt(3, 'eps', 'float', 1e-9)],
  ParameterParameter: [msg(1, 'shape', 'BlobShape')],
  PoolingParameter: [
    en(1, 'pool', 'PoolMethod', 'MAX'), opt(2, 'kernel_size', 'uint32'), opt(3, 'stride', 'uint32', 1), opt(4, 'pad', 'uint32', 0),
    opt(5, 'kernel_h', 'uint32'), opt(6, 'kernel_w', 'uint32'), opt(7, 'stride_h', 'uint32'), opt(8, 'stride_w', 'uint32'),
    opt(9, 'pad_h', 'uint32', 0), opt(10, 'pad_w', 'uint32', 0), en(11, 'engine', 'Engine', 'DEFAULT'),
    opt(12, 'global_pooling', 'bool', false), en(13, 'round_mode', 'RoundMode', 'CEIL'),
  ],
  PowerParameter: [opt(1, 'power', 'float', 1), opt(2, 'scale', 'float', 1), opt(3, 'shift', 'float', 0)],
  PReLUParameter: [msg(1, 'filler', 'FillerParameter'), opt(2, 'channel_shared', 'bool', false)],
  PythonParameter: [
    opt(1, 'module', 'string'), opt(2, 'layer', 'string'), opt(3, 'param_str', 'string', ''),
    opt(4, 'share_in_parallel', 'bool', false),
  ],
  RecurrentParameter: [
    opt(1, 'num_output', 'uint32', 0), msg(2, 'weight_filler', 'FillerParameter'), msg(3, 'bias_filler', 'FillerParameter'),
    opt(4, 'debug_info', 'bool', false), opt(5, 'expose_hidden', 'bool', false),
  ],
  ReductionParameter: [en(1, 'operation', 'ReductionOp', 'SUM'), opt(2, 'axis', 'int32', 0), opt(3, 'coeff', 'float', 1)],
  ReLUParameter: [opt(1, 'negative_slope', 'float', 0), en(2, 'engine', 'Engine', 'DEFAULT')],
  ReshapeParameter: [msg(1, 'shape', 'BlobShape'), opt(2, 'axis', 'int32', 0), opt(3, 'num_axes', 'int32', -1)],
  ScaleParameter: [
    opt(1, 'axis', 'int32', 1), opt(2, 'num_axes', 'int32', 1), msg(3, 'filler', 'FillerParameter'),
    opt(4, 'bias_term', 'bool', false), msg(5, 'bias_filler', 'FillerParameter'),
  ],
  SigmoidParameter: [en(1, 'engine', 'Engine', 'DEFAULT')],
  SliceParameter: [opt(1, 'slice_dim', 'uint32', 1), rep(2, 'slice_point', 'uint32'), opt(3, 'axis', 'int32', 1)],
  SoftmaxParameter: [en(1, 'engine', 'Engine', 'DEFAULT'), opt(2, 'axis', 'int32', 1)],
  SPPParameter: [opt(1, 'pyramid_height', 'uint32'), en(2, 'pool', 'PoolMethod', 'MAX'), en(6, 'engine', 'Engine', 'DEFAULT')],
  SwishParameter: [opt(1, 'beta', 'float', 1)],
  TanHParameter: [en(1, 'engine', 'Engine', 'DEFAULT')],
  ThresholdParameter: [opt(1, 'threshold', 'float', 0)],
  TileParameter: [opt(1, 'axis', 'int32', 1), opt(2, 'tiles', 'int32')],
  WindowDataParameter: [
    opt(1, 'source', 'string'), opt(2, 'scale', 'float', 1), opt(3, 'mean_file', 'string'), opt(4, 'batch_size', 'uint32'),
    opt(5, 'crop_size', 'uint32', 0), opt(6, 'mirror', 'bool', false), opt(7, 'fg_threshold', 'float', 0.5),
    opt(8, 'bg_threshold', 'float', 0.5), opt(9, 'fg_fraction', 'float', 0.25), opt(10, 'context_pad', 'uint32', 0),
    opt(11, 'crop_mode', 'string', 'warp'), opt(12, 'cache_images', 'bool', false), opt(13, 'root_folder', 'string', ''),
  ],
};

// Messages whose content we deliberately do not interpret.
const OPAQUE = new Set(['V0LayerParameter']);

function compileEnum(name: string, values: Record<string, number>): EnumDef {
  return { name, values, byNumber: new Map(Object.entries(values).map(([k, v]) => [v, k])) };
}

function compileMessage(name: string, fields: FieldDef[]): MessageDef {
  const sorted = [...fields].sort((a, b) => a.id - b.id);
  return {
    name,
    fields: sorted,
    byId: new Map(sorted.map((f) => [f.id, f])),
    byName: new Map(sorted.map((f) => [f.name, f])),
    opaque: OPAQUE.has(name),
  };
}

const enumDefs = new Map(Object.entries(ENUMS).map(([n, v]) => [n, compileEnum(n, v)]));
const messageDefs = new Map(Object.entries(MESSAGES).map(([n, f]) => [n, compileMessage(n, f)]));

/** The names of all message types in the schema. */
export type MessageTypeName = keyof typeof MESSAGES & string;

/** The message type called `name`; throws a plain Error for a name that is not in the schema (a bug). */
export function messageDef(name: string): MessageDef {
  const def = messageDefs.get(name);
  if (!def) throw new Error(`caffe-import schema has no message type ${name}`);
  return def;
}

/** The enum type called `name`; throws a plain Error for a name that is not in the schema (a bug). */
export function enumDef(name: string): EnumDef {
  const def = enumDefs.get(name);
  if (!def) throw new Error(`caffe-import schema has no enum type ${name}`);
  return def;
}

/** All message type names (for tests and tools). */
export function messageTypeNames(): string[] {
  return [...messageDefs.keys()];
}

/** All enum type names (for tests and tools). */
export function enumTypeNames(): string[] {
  return [...enumDefs.keys()];
}

/**
 * The value of `field` in a decoded `message` of type `messageType`, or Caffe's default when it is
 * not set (`undefined` when Caffe has no default either). Repeated fields return their array or `[]`.
 */
export function fieldValue(message: object, messageType: string, field: string): unknown {
  const def = messageDef(messageType).byName.get(field);
  if (!def) throw new Error(`${messageType} has no field ${field}`);
  const value = (message as Record<string, unknown>)[field];
  if (value !== undefined) return value;
  return def.repeated ? [] : def.default;
}

/** Caffe's V1 layer type enum to the V2 type string (util/upgrade_proto.cpp). */
export const V1_TYPE_TO_V2: Readonly<Record<string, string>> = {
  NONE: '', ABSVAL: 'AbsVal', ACCURACY: 'Accuracy', ARGMAX: 'ArgMax', BNLL: 'BNLL', CONCAT: 'Concat',
  CONTRASTIVE_LOSS: 'ContrastiveLoss', CONVOLUTION: 'Convolution', DECONVOLUTION: 'Deconvolution', DATA: 'Data',
  DROPOUT: 'Dropout', DUMMY_DATA: 'DummyData', EUCLIDEAN_LOSS: 'EuclideanLoss', ELTWISE: 'Eltwise', EXP: 'Exp',
  FLATTEN: 'Flatten', HDF5_DATA: 'HDF5Data', HDF5_OUTPUT: 'HDF5Output', HINGE_LOSS: 'HingeLoss', IM2COL: 'Im2col',
  IMAGE_DATA: 'ImageData', INFOGAIN_LOSS: 'InfogainLoss', INNER_PRODUCT: 'InnerProduct', LRN: 'LRN',
  MEMORY_DATA: 'MemoryData', MULTINOMIAL_LOGISTIC_LOSS: 'MultinomialLogisticLoss', MVN: 'MVN', POOLING: 'Pooling',
  POWER: 'Power', RELU: 'ReLU', SIGMOID: 'Sigmoid', SIGMOID_CROSS_ENTROPY_LOSS: 'SigmoidCrossEntropyLoss',
  SILENCE: 'Silence', SOFTMAX: 'Softmax', SOFTMAX_LOSS: 'SoftmaxWithLoss', SPLIT: 'Split', SLICE: 'Slice',
  TANH: 'TanH', WINDOW_DATA: 'WindowData', THRESHOLD: 'Threshold',
};

// ---------------------------------------------------------------------------------------------
// TypeScript shapes of the decoded messages.

/** Caffe's train/test phase. */
export type Phase = 'TRAIN' | 'TEST';

/** A generic decoded message: the parameters we do not type field by field. */
export interface ParamRecord {
  [field: string]: unknown;
}

/** BlobShape: the dimensions of a blob, outermost first (`dim` is always present; `[]` is a scalar). */
export interface BlobShape {
  dim: number[];
}

/**
 * A decoded BlobProto. `data` is a `Float32Array` view of the file's bytes when the payload is
 * 4-byte aligned (a copy otherwise); `double_data` is converted into `data`; gradients
 * (`diff`, `double_diff`) are skipped. `byteOffset` is where the payload starts in a binary file.
 */
export interface BlobProto {
  shape?: BlobShape;
  num?: number;
  channels?: number;
  height?: number;
  width?: number;
  data: Float32Array;
  byteOffset?: number;
}

export interface NetStateRule {
  phase?: Phase;
  min_level?: number;
  max_level?: number;
  stage?: string[];
  not_stage?: string[];
}

export interface NetState {
  phase?: Phase;
  level?: number;
  stage?: string[];
}

export interface ParamSpec {
  name?: string;
  share_mode?: 'STRICT' | 'PERMISSIVE';
  lr_mult?: number;
  decay_mult?: number;
}

export interface FillerParameter {
  type?: string;
  value?: number;
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  sparse?: number;
  variance_norm?: 'FAN_IN' | 'FAN_OUT' | 'AVERAGE';
}

export interface TransformationParameter {
  scale?: number;
  mirror?: boolean;
  crop_size?: number;
  mean_file?: string;
  mean_value?: number[];
  force_color?: boolean;
  force_gray?: boolean;
}

export interface LossParameter {
  ignore_label?: number;
  normalize?: boolean;
  normalization?: 'FULL' | 'VALID' | 'BATCH_SIZE' | 'NONE';
}

export interface AccuracyParameter {
  top_k?: number;
  axis?: number;
  ignore_label?: number;
}

export interface ConvolutionParameter {
  num_output?: number;
  bias_term?: boolean;
  pad?: number[];
  kernel_size?: number[];
  group?: number;
  stride?: number[];
  weight_filler?: FillerParameter;
  bias_filler?: FillerParameter;
  pad_h?: number;
  pad_w?: number;
  kernel_h?: number;
  kernel_w?: number;
  stride_h?: number;
  stride_w?: number;
  engine?: string;
  axis?: number;
  force_nd_im2col?: boolean;
  dilation?: number[];
}

export interface PoolingParameter {
  pool?: 'MAX' | 'AVE' | 'STOCHASTIC';
  kernel_size?: number;
  stride?: number;
  pad?: number;
  kernel_h?: number;
  kernel_w?: number;
  stride_h?: number;
  stride_w?: number;
  pad_h?: number;
  pad_w?: number;
  engine?: string;
  global_pooling?: boolean;
  round_mode?: 'CEIL' | 'FLOOR';
}

export interface LRNParameter {
  local_size?: number;
  alpha?: number;
  beta?: number;
  norm_region?: 'ACROSS_CHANNELS' | 'WITHIN_CHANNEL';
  k?: number;
  engine?: string;
}

export interface InnerProductParameter {
  num_output?: number;
  bias_term?: boolean;
  weight_filler?: FillerParameter;
  bias_filler?: FillerParameter;
  axis?: number;
  transpose?: boolean;
}

export interface DropoutParameter {
  dropout_ratio?: number;
}

export interface ReLUParameter {
  negative_slope?: number;
  engine?: string;
}

export interface SoftmaxParameter {
  engine?: string;
  axis?: number;
}

export interface ConcatParameter {
  concat_dim?: number;
  axis?: number;
}

export interface EltwiseParameter {
  operation?: 'PROD' | 'SUM' | 'MAX';
  coeff?: number[];
  stable_prod_grad?: boolean;
}

export interface FlattenParameter {
  axis?: number;
  end_axis?: number;
}

export interface BatchNormParameter {
  use_global_stats?: boolean;
  moving_average_fraction?: number;
  eps?: number;
}

export interface ScaleParameter {
  axis?: number;
  num_axes?: number;
  filler?: FillerParameter;
  bias_term?: boolean;
  bias_filler?: FillerParameter;
}

export interface ClipParameter {
  min?: number;
  max?: number;
}

export interface InputParameter {
  shape?: BlobShape[];
}

export interface PReLUParameter {
  filler?: FillerParameter;
  channel_shared?: boolean;
}

export interface DataParameter {
  source?: string;
  scale?: number;
  mean_file?: string;
  batch_size?: number;
  crop_size?: number;
  mirror?: boolean;
  rand_skip?: number;
  backend?: 'LEVELDB' | 'LMDB';
  force_encoded_color?: boolean;
  prefetch?: number;
}

export interface ImageDataParameter {
  source?: string;
  scale?: number;
  mean_file?: string;
  batch_size?: number;
  crop_size?: number;
  mirror?: boolean;
  rand_skip?: number;
  shuffle?: boolean;
  new_height?: number;
  new_width?: number;
  is_color?: boolean;
  root_folder?: string;
}

/** The `*_param` fields shared (by name) between V1 and V2 layers, typed where we use them. */
export interface LayerParams {
  transform_param?: TransformationParameter;
  loss_param?: LossParameter;
  accuracy_param?: AccuracyParameter;
  concat_param?: ConcatParameter;
  convolution_param?: ConvolutionParameter;
  data_param?: DataParameter;
  dropout_param?: DropoutParameter;
  eltwise_param?: EltwiseParameter;
  image_data_param?: ImageDataParameter;
  inner_product_param?: InnerProductParameter;
  lrn_param?: LRNParameter;
  pooling_param?: PoolingParameter;
  relu_param?: ReLUParameter;
  softmax_param?: SoftmaxParameter;
  /** Every other `*_param` (argmax_param, python_param, ...), loosely typed. */
  [param: string]: unknown;
}

/** A V2 layer (`NetParameter.layer`, field 100). */
export interface LayerParameter extends LayerParams {
  name?: string;
  type?: string;
  bottom?: string[];
  top?: string[];
  loss_weight?: number[];
  param?: ParamSpec[];
  blobs?: BlobProto[];
  include?: NetStateRule[];
  exclude?: NetStateRule[];
  phase?: Phase;
  propagate_down?: boolean[];
  flatten_param?: FlattenParameter;
  batch_norm_param?: BatchNormParameter;
  scale_param?: ScaleParameter;
  input_param?: InputParameter;
  prelu_param?: PReLUParameter;
  clip_param?: ClipParameter;
}

/** A legacy V1 layer (`NetParameter.layers`, field 2): enum type, `blobs_lr`, `weight_decay`. */
export interface V1LayerParameter extends LayerParams {
  /** A V0 layer definition (pre-2014); present but never interpreted. */
  layer?: ParamRecord;
  bottom?: string[];
  top?: string[];
  name?: string;
  type?: string;
  blobs?: BlobProto[];
  blobs_lr?: number[];
  weight_decay?: number[];
  include?: NetStateRule[];
  exclude?: NetStateRule[];
  loss_weight?: number[];
  param?: string[];
  blob_share_mode?: ('STRICT' | 'PERMISSIVE')[];
}

/** A net: its layers (V2 `layer` or legacy `layers`) and deprecated net-level inputs. */
export interface NetParameter {
  name?: string;
  layers?: V1LayerParameter[];
  input?: string[];
  input_dim?: number[];
  force_backward?: boolean;
  state?: NetState;
  debug_info?: boolean;
  input_shape?: BlobShape[];
  layer?: LayerParameter[];
}

/** A solver definition (solver.prototxt). */
export interface SolverParameter {
  net?: string;
  net_param?: NetParameter;
  train_net?: string;
  test_net?: string[];
  train_net_param?: NetParameter;
  test_net_param?: NetParameter[];
  train_state?: NetState;
  test_state?: NetState[];
  test_iter?: number[];
  test_interval?: number;
  test_compute_loss?: boolean;
  test_initialization?: boolean;
  base_lr?: number;
  display?: number;
  average_loss?: number;
  max_iter?: number;
  iter_size?: number;
  lr_policy?: string;
  gamma?: number;
  power?: number;
  momentum?: number;
  weight_decay?: number;
  regularization_type?: string;
  stepsize?: number;
  stepvalue?: number[];
  clip_gradients?: number;
  snapshot?: number;
  snapshot_prefix?: string;
  snapshot_diff?: boolean;
  snapshot_format?: 'HDF5' | 'BINARYPROTO';
  solver_mode?: 'CPU' | 'GPU';
  device_id?: number;
  random_seed?: number;
  type?: string;
  delta?: number;
  momentum2?: number;
  rms_decay?: number;
  debug_info?: boolean;
  snapshot_after_train?: boolean;
  solver_type?: 'SGD' | 'NESTEROV' | 'ADAGRAD' | 'RMSPROP' | 'ADADELTA' | 'ADAM';
  layer_wise_reduce?: boolean;
  weights?: string[];
}

/** Solver snapshot state (`.solverstate`). */
export interface SolverState {
  iter?: number;
  learned_net?: string;
  history?: BlobProto[];
  current_step?: number;
}

/**
 * A blob's shape as stored: `shape.dim` when present, else the legacy `[num, channels, height,
 * width]` (unset legacy dims count as 0, as in Caffe's Blob::FromProto), else `[]` (a scalar).
 */
export function blobShape(blob: BlobProto): number[] {
  if (blob.shape) return [...blob.shape.dim];
  if (hasLegacyDims(blob)) return [blob.num ?? 0, blob.channels ?? 0, blob.height ?? 0, blob.width ?? 0];
  return [];
}

/** Whether the blob carries the legacy num/channels/height/width dims. */
export function hasLegacyDims(blob: BlobProto): boolean {
  return blob.num !== undefined || blob.channels !== undefined || blob.height !== undefined || blob.width !== undefined;
}

/** The number of elements a shape holds (1 for `[]`, as in Caffe). */
export function shapeCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Caffe's Blob::ShapeEquals: does a stored blob fit a target shape? A blob with legacy dims matches
 * a target of up to 4 axes when the target, padded with leading 1s to 4 axes, equals
 * num x channels x height x width (so an InnerProduct weight stored 1 x 1 x OUT x IN fits
 * [OUT, IN]); a blob with `shape` must match exactly.
 */
export function blobShapeMatches(blob: BlobProto, target: readonly number[]): boolean {
  // Legacy dims win when both are present, as in Caffe (the decoder rejects blobs where they disagree).
  if (hasLegacyDims(blob)) {
    if (target.length > 4) return false;
    const padded = [...Array<number>(4 - target.length).fill(1), ...target];
    const legacy = [blob.num ?? 0, blob.channels ?? 0, blob.height ?? 0, blob.width ?? 0];
    return padded.every((d, i) => d === legacy[i]);
  }
  const own = blobShape(blob);
  return own.length === target.length && own.every((d, i) => d === target[i]);
}
