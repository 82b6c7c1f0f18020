export { main } from './cli.js';
export { runExperiment, type ExperimentResult } from './experiment.js';
export { resolveConfig, DEFAULTS, type ExperimentConfig } from './config.js';
export { ExperimentError } from './errors.js';
export { openOutFolder, OutFolderError, type OutFolder, type OutFolderOptions } from './out-folder.js';
export { readReaderLabels, type ReaderLabels } from './reader.js';
export { runDefaultExperiment, writePhantomDataset, type DemoOptions } from './demo/default.js';
export { writeMobileNetAtSide, writeSyntheticArchive, type ArchiveOptions } from './demo/archive.js';
export { defaultBase, SHIPPED_BASE, SHIPPED_BASE_DIR, CAFFENET_DIR, CAFFENET_WEIGHTS, type BaseModel } from './transfer/base.js';
export {
  gradCam,
  lastConvolution,
  defaultScoreBlob,
  occlusionMap,
  overlaySaliency,
  saliencyPng,
  heatColour,
  resizeMap,
  mapCorrelation,
  SaliencyError,
  type GradCamResult,
  type GradCamOptions,
  type OcclusionOptions,
  type SaliencyMap,
} from './saliency/index.js';
export { planTransfer, type TransferPlan } from './transfer/plan.js';
export { extractFeatures, type FeatureSet, type FeatureCache } from './transfer/features.js';
export { loadFrozenBase, type FrozenBase } from './transfer/frozen.js';
export * as data from './data/index.js';
export * as report from './report/index.js';
export type { Report } from './report/index.js';
export { trainHead, predict, predictViews, headNetDef, type HeadTraining, type HeadResult, type HeadCheckpoint, type LabelledFeatures } from './transfer/head.js';
export { miniCaffeNet } from './demo/source-task.js';
export { CommandError, DownloadError } from './commands/errors.js';
export { runInspect, formatInspect, KNOWN_MODELS, type InspectReport, type InspectOptions, type StoredLayer } from './commands/inspect.js';
export { runForward, formatForward, type ForwardOptions, type ForwardIndex, type ForwardEntry } from './commands/forward.js';
export { runClassify, formatClassify, readLabels, type ClassifyOptions, type ClassifyReport, type ClassScore, type ImageResult } from './commands/classify.js';
export { fetchModel, formatFetch, MODEL_ZOO, type FetchOptions, type FetchResult, type ZooEntry } from './commands/fetch-model.js';
export type { PreprocessFlags } from './commands/input.js';
export { runFeatures, formatFeatures, type FeaturesOptions, type FeaturesSummary } from './commands/features.js';
export { parseShard, shardFromEnvironment, shardItems, shardOfStudy, type Shard } from './transfer/shard.js';
