import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadOptions } from './data/index.js';
import { ExperimentError } from './errors.js';
import { checkNumberSetting, RULES, type NumberRule } from './options.js';
import { defaultBase } from './transfer/base.js';

/**
 * Every setting of an experiment run. The command line and `--config experiment.json`
 * set the same fields; the config actually used is saved with the results.
 */
export interface ExperimentConfig {
  /** A folder of class subfolders, or a manifest CSV (path,label[,study][,split]). */
  data: string;
  /** The pretrained model: deploy prototxt and caffemodel (default: the shipped base, see transfer/base.ts). */
  prototxt: string;
  weights: string;
  /** The base's name in the console and the report (set when the default base is used). */
  base?: string;
  /** A mean image (.binaryproto) for the caffenet preset; else its mean values. */
  mean?: string;
  /** The model's input recipe: `caffenet` (BGR, mean, 227 crop) or `mobilenet` (RGB, (x - 128) / 128). */
  preset: 'caffenet' | 'mobilenet';
  /** Each part of the recipe, over the preset: channel order, per-channel means, scale, resize and crop sides. */
  channelOrder?: 'BGR' | 'RGB';
  meanValues?: string;
  scale?: number;
  resize?: number;
  crop?: number;
  /** The last frozen layer; default: the last pooling before the first fully connected layer. */
  freezeUntil?: string;
  out: string;
  seed: number;
  /** Fractions of studies' images for train / validation / test. */
  split: { train: number; val: number; test: number };
  /** The CSV column holding a fixed split, if any. */
  splitColumn?: string;
  /**
   * Training augmentation: this many extra versions of each training image, each a random crop
   * (where the recipe crops) and a random mirror, their features cached like the others.
   */
  augment: number;
  /**
   * Each image is also seen mirrored left-right: the mirrored training images are extra training
   * rows, and validation and test average the class probabilities of the image and its mirror
   * image (test-time augmentation). Their features are cached like the others.
   */
  mirrorViews: boolean;
  /** Keep images that carry colour (Doppler, coloured marks) instead of excluding them. */
  keepColour: boolean;
  /**
   * Head training. The default solves the head, a logistic regression on the pooled features, to
   * convergence: every training row at each iteration (batchSize 0), SGD with momentum 0.9 at a fixed
   * rate, weight decay (the L2 strength) 0.01, 2,000 iterations, the last weights kept. The study's
   * Caffe recipe was batch 256, weight decay 5e-4, step policy, early stopping on validation.
   */
  batchSize: number;
  maxIter: number;
  baseLr: number;
  momentum: number;
  weightDecay: number;
  lrPolicy: 'fixed' | 'step' | 'multistep' | 'exp' | 'inv' | 'poly';
  gamma: number;
  stepsize: number;
  validationInterval: number;
  /** Early stopping: validation measurements without improvement before stopping (0: off). */
  patience: number;
  /** Keep the head weights of the best validation accuracy instead of the last ones. */
  keepBest: boolean;
  /** A solver.prototxt whose settings replace the solver fields above. */
  solver?: string;
  /** Also train a small CNN from random weights on the same split, as the baseline. */
  fromScratch: boolean;
  scratchIter: number;
  /**
   * The learning curve: labelled training studies per class to train on, e.g. `2,4,8,16,all`
   * (absent: no curve), each point drawn `learningCurveDraws` times with seeds.
   */
  learningCurve?: string;
  learningCurveDraws: number;
  /** Fine-tune the base's layers from this one on (on images, after the head); absent: frozen only. */
  fineTuneFrom?: string;
  fineTuneIter: number;
  fineTuneBatch: number;
  /** Base learning rate of fine-tuning (each parameter's rate is this times its lr_mult). */
  fineTuneLr: number;
  /** Weight decay of fine-tuning (the head's `weightDecay` is the L2 strength of a linear classifier, too strong for conv layers). */
  fineTuneWeightDecay: number;
  /** Grad-CAM overlays of every misclassified test image and this many correct ones per class. */
  saliencyPerClass: number;
  /** A second reader's labels (CSV path,label) of the test images. */
  readerLabels?: string;
  /** Where features are cached between runs. */
  cacheDir: string;
  /** Resume an interrupted run: reuse cached features and the last head snapshot. */
  resume: boolean;
  /** Replace the results of an earlier run in `out` (default: refused, so no result is lost by a rerun). */
  force?: boolean;
  /** The run uses generated demo data (shown as a banner in the report). */
  synthetic?: boolean;
  title?: string;
  /** Use manifest paths and symlinks that lead outside the data folder (default: refused and listed). */
  allowOutsideData?: boolean;
  /** The most megapixels an image may declare; larger files are skipped and listed (default 50). */
  maxMegapixels?: number;
  /** No progress bars (tests). */
  quiet?: boolean;
}

/** The defaults of the fields a user does not have to give. */
export const DEFAULTS = {
  preset: 'caffenet',
  out: 'out/experiment',
  seed: 1,
  split: { train: 0.6, val: 0.2, test: 0.2 },
  keepColour: false,
  augment: 0,
  mirrorViews: true,
  batchSize: 0,
  maxIter: 2000,
  baseLr: 0.001,
  momentum: 0.9,
  weightDecay: 0.01,
  lrPolicy: 'fixed',
  gamma: 0.1,
  stepsize: 200,
  validationInterval: 10,
  patience: 0,
  keepBest: false,
  fromScratch: false,
  scratchIter: 300,
  learningCurveDraws: 3,
  fineTuneIter: 60,
  fineTuneBatch: 16,
  fineTuneLr: 0.001,
  fineTuneWeightDecay: 0.0005,
  saliencyPerClass: 2,
  cacheDir: '.cache/features',
  resume: false,
} as const satisfies Partial<ExperimentConfig>;

const REQUIRED = ['data', 'prototxt', 'weights'] as const;

/**
 * What each numeric setting accepts, on the command line and in a config file alike
 * (cli.ts builds its option parsers from this table).
 */
export const SETTING_RULES = {
  scale: RULES.number,
  resize: RULES.positive,
  crop: RULES.positive,
  seed: RULES.integer,
  augment: RULES.count,
  batchSize: RULES.count,
  maxIter: RULES.positive,
  baseLr: RULES.rate,
  momentum: { integer: false, min: 0, max: 1 },
  weightDecay: { integer: false, min: 0 },
  gamma: RULES.rate,
  stepsize: RULES.positive,
  validationInterval: RULES.positive,
  patience: RULES.count,
  scratchIter: RULES.positive,
  maxMegapixels: RULES.rate,
  learningCurveDraws: RULES.positive,
  fineTuneIter: RULES.positive,
  fineTuneBatch: RULES.positive,
  fineTuneLr: RULES.rate,
  fineTuneWeightDecay: { integer: false, min: 0 },
  saliencyPerClass: RULES.count,
} as const satisfies { [K in keyof ExperimentConfig]?: NumberRule };

/**
 * The run's config: defaults, then the config file (if any), then the command line
 * options given. Unknown keys in the file are an error (a typo must not be ignored).
 */
export function resolveConfig(options: Partial<ExperimentConfig>, configFile?: string): ExperimentConfig {
  let fromFile: Partial<ExperimentConfig> = {};
  if (configFile) {
    try {
      fromFile = JSON.parse(readFileSync(configFile, 'utf8')) as Partial<ExperimentConfig>;
    } catch (error) {
      throw new ExperimentError(`--config ${configFile}: ${(error as Error).message}`);
    }
    const known = new Set<string>([...Object.keys(DEFAULTS), ...REQUIRED, 'mean', 'channelOrder', 'meanValues', 'scale', 'resize', 'crop', 'base', 'freezeUntil', 'learningCurve', 'fineTuneFrom', 'splitColumn', 'solver', 'readerLabels', 'maxMegapixels', 'allowOutsideData', 'synthetic', 'title', 'quiet']);
    const unknown = Object.keys(fromFile).filter((key) => !known.has(key));
    if (unknown.length > 0) throw new ExperimentError(`--config ${configFile}: unknown setting(s) ${unknown.join(', ')}; known: ${[...known].sort().join(', ')}`);
  }
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const config = { ...DEFAULTS, ...fromFile, ...given } as ExperimentConfig;
  if (config.prototxt === undefined && config.weights === undefined) {
    const base = defaultBase();
    Object.assign(config, { prototxt: base.prototxt, weights: base.weights, base: base.name });
    if (fromFile.preset === undefined && given.preset === undefined) config.preset = base.preset;
  }
  for (const key of REQUIRED) {
    if (!config[key]) throw new ExperimentError(`missing --${key === 'data' ? 'data' : key} (or "${key}" in the config file)`);
  }
  if (config.preset !== 'caffenet' && config.preset !== 'mobilenet') throw new ExperimentError(`--preset ${config.preset}: use caffenet or mobilenet`);
  const { train, val, test } = config.split;
  if (![train, val, test].every((f) => f >= 0) || Math.abs(train + val + test - 1) > 1e-6 || train <= 0 || test <= 0) {
    throw new ExperimentError(`split fractions ${train}/${val}/${test} must be >= 0, sum to 1, with train and test > 0`);
  }
  for (const [key, rule] of Object.entries(SETTING_RULES)) {
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    const problem = checkNumberSetting(`${key} (${flag})`, config[key as keyof typeof SETTING_RULES], rule);
    if (problem !== undefined) throw new ExperimentError(problem);
  }
  return config;
}

/**
 * How a run reads its data set, the same for `cnn experiment`, `cnn features` and a reader study
 * of its report (the split depends on every item, so all three must see the same items): the
 * split column, whether paths may lead outside the data folder, and the run's own output and
 * cache folders left out of the scan when they sit inside the data folder.
 */
export function datasetOptions(config: Partial<Pick<ExperimentConfig, 'splitColumn' | 'allowOutsideData' | 'out' | 'cacheDir'>>): LoadOptions {
  return {
    ...(config.splitColumn !== undefined ? { splitColumn: config.splitColumn } : {}),
    allowOutside: config.allowOutsideData === true,
    exclude: [config.out, config.cacheDir].flatMap((dir) => (dir !== undefined ? [path.resolve(dir)] : [])),
  };
}
