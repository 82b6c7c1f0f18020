/*
 * The transfer-learning building blocks the experiment is made of, for code that assembles
 * its own runs (`@cnn/experiment/transfer`): features of a frozen base, their cache on disk,
 * the classifier head and its fine-tuning, the learning curve's draws.
 */
export { loadFrozenBase, featureKey, recipeKey, type FrozenBase, type FrozenBaseSettings } from './frozen.js';
export { extractFeatures, selectRows, type FeatureSet, type FeatureCache } from './features.js';
export { entryFileName, encodeEntry, decodeEntry, readEntry, writeEntry } from './cache-entry.js';
export { trainHead, predict, headNetDef, type HeadTraining, type HeadResult, type HeadCheckpoint } from './head.js';
export { classifierNetDef, fineTune, classify, augmentation, type FineTuneSettings, type FineTuneResult } from './fine-tune.js';
export { parseLearningCurve, drawStudies, learningCurve, type CurveAmount, type CurveTrainers } from './learning-curve.js';
export { planTransfer, type TransferPlan } from './plan.js';
export { parseShard, shardFromEnvironment, shardItems, shardOfStudy, type Shard } from './shard.js';
