/**
 * The shape of `report.json`, the machine-readable result of one experiment run.
 *
 * Scripts read at least `test.accuracy`, `test.ci95`, `test.confusion`, `classes`,
 * `timing.features_per_second` and `timing.total_seconds`; those names are a
 * contract and must not change. Fractions are 0-1 everywhere (never percent).
 */

/** Any value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Images and distinct studies in one part of the data. */
export interface SplitCounts {
  images: number;
  studies: number;
}

/** One row of the per-class split table (the study's train / test table, plus validation). */
export interface SplitRow {
  class: string;
  train: number;
  validation: number;
  test: number;
  total: number;
}

/** An image left out of the experiment, and why (Doppler, unreadable, unlabelled, ...). */
export interface ExcludedImage {
  path: string;
  reason: string;
}

export interface DatasetSummary {
  /** Where the images came from (a folder, a manifest), for the reader of the report. */
  source?: string;
  counts: {
    train: SplitCounts;
    validation: SplitCounts;
    test: SplitCounts;
    total: SplitCounts;
    excluded: number;
  };
  /** One row per class, in the order of `Report.classes`. */
  split: SplitRow[];
  excluded: ExcludedImage[];
  /** Anything odd found while reading the data that did not stop the run. */
  problems: string[];
}

/** A validation measurement taken during training. */
export interface ValidationPoint {
  iter: number;
  accuracy: number;
  loss?: number;
}

export interface TrainingCurves {
  /** Number of solver iterations run. */
  iterations: number;
  batch_size?: number;
  /** `loss[i]` is the average training loss of iteration `i` (0-based, as Caffe counts). */
  loss: number[];
  /** Validation accuracy (0-1) at intervals, on the validation split, never the test split. */
  validation: ValidationPoint[];
}

/** Precision, recall and F1 of one class; see `perClassMetrics` for the definitions. */
export interface ClassMetrics {
  class: string;
  precision: number;
  recall: number;
  f1: number;
  /** One-vs-rest area under the ROC curve of this class's probability (null when the test split lacks positives or negatives). */
  auc: number | null;
  /** Number of test images whose true class this is (the confusion row sum). */
  support: number;
}

/** A misclassified test image, for the gallery. Labels are class names. */
export interface MisclassifiedCase {
  path: string;
  study?: string;
  true: string;
  predicted: string;
  /** The network's probability for its predicted class. */
  probability?: number;
  /** The second reader's label, when a reader file was given and covers this image. */
  reader?: string;
}

export interface TestResults {
  count: number;
  /** Fraction of test images classified correctly, 0-1. */
  accuracy: number;
  /** 95% cluster-bootstrap percentile interval of the accuracy, resampling whole studies. */
  ci95: [number, number];
  /** How many studies the bootstrap resampled (fewer studies, wider interval). */
  studies?: number;
  /** `confusion[t][p]` counts test images of true class `t` predicted as `p` (rows = true class). */
  confusion: number[][];
  per_class: ClassMetrics[];
  /** Macro average of the classes' one-vs-rest AUCs (null when none is defined). */
  auc?: number | null;
  /** 95% cluster-bootstrap interval of the macro AUC, resampling whole studies. */
  auc_ci95?: [number, number] | null;
  /** Per class (as `classes`): the share of the other classes' test images not called it (`recall` is the sensitivity). */
  specificity?: number[];
  /** Unweighted means over classes of precision, recall and F1. */
  macro?: { precision: number; recall: number; f1: number };
  misclassified?: MisclassifiedCase[];
}

/** Two-reader comparison on the test images both have labelled. */
export interface ReaderResults {
  /** The CSV the reader's labels came from. */
  source?: string;
  /** Test images the reader labelled (the comparison uses only these). */
  count: number;
  /** Reader accuracy, 0-1. */
  accuracy: number;
  /** Network accuracy on the same images, 0-1. */
  network_accuracy?: number;
  venn: { bothRight: number; networkOnly: number; readerOnly: number; neither: number };
  /** Exact two-sided McNemar p-value on the discordant cases. */
  mcnemar_p?: number;
  /** Reader labels that named no test image or no known class. */
  unmatched?: string[];
}

export interface Timing {
  /**
   * Feature vectors per second of wall time, from file to features: reading, decoding and
   * screening the images, making the net's inputs and the forward through the frozen base. A
   * run served entirely from the feature cache reports the rate recorded when it was filled.
   */
  features_per_second: number;
  /** Wall time of the whole run, in seconds. */
  total_seconds: number;
  /** Further phases, e.g. `extract_seconds`, `train_seconds`, `tsne_seconds`. */
  [phase: string]: number;
}

/** The baseline transfer must beat: the same split learned from random weights. */
export interface BaselineResults {
  /** What was trained, for the reader of the report. */
  architecture: string;
  iterations: number;
  /** Test accuracy, 0-1, on the same test images. */
  accuracy: number;
  ci95: [number, number];
}

/** Accuracy with its 95% cluster-bootstrap interval over studies. */
export interface AccuracyWithCI {
  accuracy: number;
  ci95: [number, number];
}

/**
 * One point of the learning curve: head (and baseline) trained on `studies_per_class`
 * labelled training studies of each class (or all of them), drawn several times with
 * seeds; accuracy is the mean over the draws on the same test split, ci95 the 2.5% and
 * 97.5% quantiles of the draws' pooled cluster-bootstrap resamples.
 */
export interface LearningCurvePoint {
  studies_per_class: number | 'all';
  transfer: AccuracyWithCI;
  scratch?: AccuracyWithCI;
}

/** A saliency overlay written next to the report. */
export interface SaliencyEntry {
  /** The test image (as the dataset names it). */
  path: string;
  /** The class explained: the network's prediction. */
  class: string;
  /** The overlay PNG, relative to the report's folder. */
  file: string;
}

/** Fine-tuning beyond the frozen base: layers from `from` on trained on images after the head. */
export interface FineTuneResults {
  from: string;
  test: AccuracyWithCI;
  seconds: number;
}

export interface Report {
  /** Format version of this file; bumped when a key changes meaning. */
  format: 1;
  title?: string;
  /** True when the run used generated demo data instead of real images: the HTML shows a banner. */
  synthetic?: boolean;
  /** ISO 8601 time the run finished. */
  created?: string;
  /** Identifies the run; also written into report.html so a mismatched pair can be told apart. */
  run_id?: string;
  /** The run's settings, as given (model, weights, seed, solver, split fractions, ...). */
  config: { [key: string]: JsonValue };
  /** Class names; class `k` in every array and matrix is `classes[k]`. */
  classes: string[];
  dataset: DatasetSummary;
  training: TrainingCurves;
  test: TestResults;
  reader?: ReaderResults;
  /** The from-scratch baseline, when it was trained. */
  baseline?: BaselineResults;
  learning_curve?: LearningCurvePoint[];
  saliency?: SaliencyEntry[];
  fine_tune?: FineTuneResults;
  /** How fine-tuning went on the validation split: iterations run, accuracy of the head alone and of the weights kept. */
  fine_tune_validation?: { iterations: number; before: number; after: number };
  timing: Timing;
}
