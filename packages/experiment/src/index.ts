export { main } from './cli.js';
export { runExperiment, type ExperimentResult } from './experiment.js';
export { resolveConfig, DEFAULTS, type ExperimentConfig } from './config.js';
export { ExperimentError } from './errors.js';
export { runDefaultExperiment, writePhantomDataset } from './demo/default.js';
export { planTransfer, type TransferPlan } from './transfer/plan.js';
export * as data from './data/index.js';
export * as report from './report/index.js';
export type { Report } from './report/index.js';
