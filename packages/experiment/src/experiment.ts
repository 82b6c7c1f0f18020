import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readSolverPrototxtFile, toNetParameter, writeCaffemodel, formatPrototxt } from '@cnn/caffe-import';
import { Net, type LayerDef, type NetDef, type Param, type SolverParams } from '@cnn/nn';
import { getThreads } from '@cnn/tensor';
import {
  dataSummaryLines,
  ImageWorkers,
  loadDataset,
  pixelLimit,
  prepareImages,
  splitByStudy,
  splitTable,
  summariseData,
  type DatasetItem,
  type InputRecipe,
  type Split,
  type StoredImage,
} from './data/index.js';
import { datasetOptions, type ExperimentConfig } from './config.js';
import { ExperimentError } from './errors.js';
import { openOutFolder } from './out-folder.js';
import { readReaderLabels } from './reader.js';
import {
  bootstrapAccuracyCI,
  bootstrapAucCI,
  confusionMatrix,
  galleryThumbnail,
  macroAuc,
  macroAverage,
  oneVsRestRoc,
  perClassMetrics,
  readerComparison,
  renderAndWriteReport,
  sampleIndices,
  sensitivitySpecificity,
  tsne,
  TSNE_MAX_POINTS,
  writeFileAtomic,
  type MisclassifiedCase,
  type Report,
} from './report/index.js';
import { saliencyGallery, type SaliencyCase } from './saliency/gallery.js';
import { trainFromScratch } from './scratch.js';
import { classifierNetDef, classify, fineTune } from './transfer/fine-tune.js';
import { learningCurve, parseLearningCurve } from './transfer/learning-curve.js';
import { extractFeatures, selectRows, sha1, stackRows, type FeatureSet } from './transfer/features.js';
import { argmaxRows, predict, predictViews, trainHead, type HeadTraining } from './transfer/head.js';
import { featureKey, loadFrozenBase, recipeKey } from './transfer/frozen.js';
import type { TransferPlan } from './transfer/plan.js';

/** Misclassified test images shown with a thumbnail and a Grad-CAM map (report.json lists them all). */
const GALLERY_THUMBNAILS = 48;

/** What a finished run returns: the report and where it was written. */
export interface ExperimentResult {
  report: Report;
  out: string;
  html: string;
}

/**
 * The frozen-base transfer experiment, end to end:
 * data (load, split by study, screen and preprocess) -> pretrained model -> features
 * at the cut, cached -> head training on the train split with validation -> one
 * evaluation on the test split -> figures, report.json, report.html and the retrained
 * model, all written into a staging folder beside `config.out` and moved there when the run
 * is complete (see openOutFolder): a folder holding an earlier run is refused unless
 * `config.force`, and a failed run leaves no partial `config.out`.
 */
export async function runExperiment(config: ExperimentConfig, log: (line: string) => void = (line) => console.log(line)): Promise<ExperimentResult> {
  const folder = openOutFolder(config.out, { marker: 'report.json', force: config.force, resume: config.resume, keep: [config.cacheDir], log });
  // Decoding and preprocessing run on worker threads beside this one, one fewer than the threads since this thread does
  // its share when it collects (see image-workers.ts); they start only for a data set large enough.
  const workers = getThreads() > 1 ? new ImageWorkers(getThreads() - 1) : undefined;
  let report: Report;
  try {
    report = await runInFolder(config, folder.dir, log, workers);
  } catch (error) {
    folder.release();
    throw error;
  } finally {
    await workers?.close();
  }
  folder.commit();
  return { report, out: folder.final, html: join(folder.final, 'report.html') };
}

/** The run itself, writing into `out` (the staging folder). */
async function runInFolder(config: ExperimentConfig, out: string, log: (line: string) => void, imageWorkers: ImageWorkers | undefined): Promise<Report> {
  const started = performance.now();

  // Data
  const dataset = await loadDataset(config.data, datasetOptions(config));
  const split = splitByStudy(dataset.items, { seed: config.seed, fractions: config.split, classes: dataset.classes });
  log(`data: ${dataset.items.length} images of ${dataset.classes.length} classes from ${dataset.source}`);
  // The workers start now and the model loads while they do (see ImageWorkers.start); it is reported after the data.
  const workers = imageWorkers?.forImages(split.items.length)?.start();
  const { model, recipe, plan, cache, mirror } = loadFrozenBase(config, dataset.classes.length);
  const decodeStarted = performance.now();
  const prepared = await prepareImages(split.items, dataset.classes, { keepColour: config.keepColour, maxPixels: pixelLimit(config.maxMegapixels), workers });
  const decodeSeconds = (performance.now() - decodeStarted) / 1000;
  const items = prepared.items;
  const classes = dataset.classes;
  const dataSummary = summariseData(dataset, split.warnings, prepared);
  for (const line of dataSummaryLines(dataSummary, dataset)) log(line);
  // A second reader's labels are matched now, so a file that matches no test image fails before the long work.
  const testItems = items.flatMap((item, i) => (item.split === 'test' ? [i] : []));
  const readerLabels = config.readerLabels ? readReaderLabels(config.readerLabels, classes, items, testItems) : undefined;

  // Model, cut at the frozen base
  log(`model: ${config.base ?? model.def.name ?? basename(config.prototxt)}; frozen base up to ${plan.cutLayer} (${plan.cutBlob} ${plan.featureShape.join('x')}); ${plan.classifier} -> ${plan.newClassifier} with ${classes.length} classes`);

  // Features at the cut, once, cached
  const modelKey = cache.modelKey;
  const extraction = await extractFeatures(model.net, plan, recipe, prepared.images, {
    cache,
    quiet: config.quiet,
    label: 'features',
    names: items.map((item) => item.name),
    workers,
    // Reading and decoding the images (above) counts in the rate: it covers the way from file to features.
    decodeSeconds,
  });
  log(`features: ${extraction.computed} computed, ${items.length - extraction.computed} from the cache, in ${extraction.seconds.toFixed(1)} s`);
  // The mirror image of every image, through the same frozen base: extra training rows and the second view at validation and test.
  const mirrored = config.mirrorViews
    ? await extractFeatures(model.net, plan, mirror.recipe, prepared.images, {
        cache: mirror.cache,
        quiet: config.quiet,
        label: 'mirrored',
        names: items.map((item) => item.name),
        workers,
      })
    : undefined;
  if (mirrored) log(`mirrored views: ${mirrored.computed} computed, ${items.length - mirrored.computed} from the cache, in ${mirrored.seconds.toFixed(1)} s`);

  // Extra training rows: random crops and mirrors of the training images, through the same frozen base.
  const augmentRecipe: InputRecipe = { ...recipe, randomCrop: recipe.crop !== undefined, mirror: true };
  let augmentedComputed = mirrored?.computed ?? 0;
  const augmentTraining = async (base: { indices: readonly number[]; features: FeatureSet; mirrored?: FeatureSet; labels: number[] }) => {
    if (config.augment === 0 && !base.mirrored) return base;
    const images = base.indices.map((i) => prepared.images[i]!);
    const augmentKey = featureKey(config, augmentRecipe, plan.cutLayer);
    const parts: FeatureSet[] = base.mirrored ? [base.features, base.mirrored] : [base.features];
    for (let variant = 1; variant <= config.augment; variant++) {
      const extra = await extractFeatures(model.net, plan, augmentRecipe, images, {
        cache: { dir: cache.dir, modelKey: augmentKey },
        quiet: config.quiet,
        label: `augmented ${variant}/${config.augment}`,
        variant,
        names: base.indices.map((i) => items[i]!.name),
        workers,
      });
      augmentedComputed += extra.computed;
      parts.push(extra.features);
    }
    if (config.augment > 0) log(`augmentation: ${config.augment} random crop/mirror version(s) of each of ${images.length} training images`);
    return { indices: base.indices, features: stackRows(parts), labels: parts.flatMap(() => base.labels) };
  };
  const rows = (which: Split): number[] => items.flatMap((item, i) => (item.split === which ? [i] : []));
  const part = (which: Split) => {
    const indices = rows(which);
    return {
      indices,
      features: selectRows(extraction.features, indices),
      mirrored: mirrored ? selectRows(mirrored.features, indices) : undefined,
      labels: indices.map((i) => items[i]!.label),
    };
  };
  const train = await augmentTraining(part('train'));
  const validation = part('val');
  const test = part('test');
  if (train.indices.length === 0 || test.indices.length === 0) throw new ExperimentError(`the split left ${train.indices.length} training and ${test.indices.length} test images: more studies are needed`);

  // Head training
  const settings = headSettings(config);
  const modelLayers = new Set(model.net.layers.map((layer) => layer.name));
  const pretrainedHead = (layer: string, index: number) => (modelLayers.has(layer) ? model.net.layer(layer).params[index]?.data.data : undefined);
  const checkpoint = {
    path: join(out, '.checkpoint', 'head'),
    key: sha1(JSON.stringify([modelKey, classes, train.indices.map((i) => items[i]!.name), validation.indices.map((i) => items[i]!.name), settings, config.augment, config.mirrorViews])),
    resume: config.resume,
  };
  const head = trainHead(
    plan,
    train,
    validation,
    settings,
    pretrainedHead,
    (iter, loss) => {
      if (!config.quiet && (iter + 1) % Math.max(1, Math.floor(settings.maxIter / 10)) === 0) log(`train: iteration ${iter + 1}/${settings.maxIter}, loss ${loss.toFixed(4)}`);
    },
    checkpoint,
  );
  if (head.resumedAt > 0) log(`head: resumed from the checkpoint at iteration ${head.resumedAt}`);
  log(`head: ${head.loss.length} iterations in ${head.seconds.toFixed(1)} s; best validation accuracy at iteration ${head.bestIter}`);

  // The test split, evaluated once
  const testPrediction = predictViews(head.net, plan, test);
  const predicted = argmaxRows(testPrediction.probabilities, classes.length);
  const correct = predicted.map((p, i) => p === test.labels[i]);
  const confusion = confusionMatrix(test.labels, predicted, classes.length);
  const perClass = perClassMetrics(confusion);
  const studies = test.indices.map((i) => items[i]!.study);
  const interval = bootstrapAccuracyCI(correct, studies, { seed: config.seed });
  const accuracy = correct.filter(Boolean).length / correct.length;
  log(`test: accuracy ${(accuracy * 100).toFixed(1)}% (95% CI ${(interval.low * 100).toFixed(1)}-${(interval.high * 100).toFixed(1)}%) on ${correct.length} images from ${new Set(studies).size} studies`);

  // ROC curves and AUC, each class against the rest, the macro AUC's interval over studies
  const roc = oneVsRestRoc(testPrediction.probabilities, test.labels, classes.length);
  const auc = macroAuc(roc);
  const aucInterval = bootstrapAucCI(testPrediction.probabilities, test.labels, classes.length, studies, { seed: config.seed });
  const specificity = sensitivitySpecificity(confusion).map((s) => s.specificity);
  log(`test: macro AUC ${finiteOrNull(auc)?.toFixed(3) ?? 'n/a'} (95% CI ${aucInterval.map((v) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a')).join('-')})`);

  // The whole frozen classifier (base + trained head) as one net, for saliency and fine-tuning
  const headNames = new Set(plan.headLayers.map((layer) => layer.name));
  const classifierWeights = (layer: string, index: number): Float32Array | undefined =>
    (headNames.has(layer) ? head.net.layer(layer).params[index]?.data.data : modelLayers.has(layer) ? model.net.layer(layer).params[index]?.data.data : undefined) as Float32Array | undefined;
  const labelsOf = items.map((item) => item.label);
  const studiesOf = items.map((item) => item.study);

  // Learning curve: the head (and the baseline) retrained on fewer labelled studies
  const curveStarted = performance.now();
  const curve = config.learningCurve
    ? learningCurve(
        parseLearningCurve(config.learningCurve),
        train.indices,
        studies,
        { label: (i) => labelsOf[i]!, study: (i) => studiesOf[i]! },
        {
          transfer: (subset, seed) => {
            // The subset's images and, with mirror views, their mirror images (the curve trains on no augmented variants).
            const views = mirrored ? [extraction.features, mirrored.features] : [extraction.features];
            const rows = { features: stackRows(views.map((view) => selectRows(view, subset))), labels: views.flatMap(() => subset.map((i) => labelsOf[i]!)) };
            const trained = trainHead(plan, rows, validation, { ...settings, seed }, pretrainedHead);
            return argmaxRows(predictViews(trained.net, plan, test).probabilities, classes.length).map((p, k) => p === test.labels[k]);
          },
          scratch: config.fromScratch
            ? (subset, seed) => trainFromScratch(prepared.images, labelsOf, { train: subset, val: validation.indices, test: test.indices }, classes.length, { iterations: config.scratchIter, seed, studies: studiesOf })
            : undefined,
        },
        { draws: config.learningCurveDraws, seed: config.seed, log },
      )
    : undefined;
  const curveSeconds = (performance.now() - curveStarted) / 1000;

  // Fine-tuning the base from a layer on, on augmented images, after the head
  const fine = config.fineTuneFrom
    ? fineTune(
        plan,
        prepared.images,
        labelsOf,
        { train: train.indices, val: validation.indices },
        recipe,
        {
          from: config.fineTuneFrom,
          iterations: config.fineTuneIter,
          batchSize: config.fineTuneBatch,
          baseLr: config.fineTuneLr,
          momentum: config.momentum,
          weightDecay: config.fineTuneWeightDecay,
          validationInterval: Math.max(5, Math.floor(config.fineTuneIter / 5)),
          seed: config.seed,
        },
        classifierWeights,
        {
          checkpoint: { path: join(out, '.checkpoint', 'fine-tune'), key: sha1(JSON.stringify([checkpoint.key, head.loss.length, config.fineTuneFrom, config.fineTuneIter, config.fineTuneBatch, config.fineTuneLr])), resume: config.resume },
          quiet: config.quiet,
          log,
        },
      )
    : undefined;
  const fineTest = fine ? testWithCI(classifyViews(fine.net, plan, prepared.images, test.indices, recipe, config.mirrorViews), test.labels, studies, config.seed) : undefined;
  if (fine && fineTest) log(`fine-tuned from ${config.fineTuneFrom}: test accuracy ${(fineTest.accuracy * 100).toFixed(1)}% (95% CI ${(fineTest.ci95[0] * 100).toFixed(1)}-${(fineTest.ci95[1] * 100).toFixed(1)}%) in ${fine.seconds.toFixed(1)} s`);

  // Grad-CAM of every misclassified test image and a few right ones per class
  const saliencyStarted = performance.now();
  const frozenClassifier = new Net(classifierNetDef(plan, 1, 'TEST'), { pretrained: classifierWeights });
  const shown = new Map<number, number>();
  const saliencyCases: SaliencyCase[] = test.indices.flatMap((row, k): SaliencyCase[] => {
    // The right ones are counted per class; the wrong ones (key -1) as far as the gallery has thumbnails.
    const key = predicted[k] === test.labels[k] ? test.labels[k]! : -1;
    const count = shown.get(key) ?? 0;
    if (count >= (key < 0 ? GALLERY_THUMBNAILS : config.saliencyPerClass)) return [];
    shown.set(key, count + 1);
    return [{ row, path: items[row]!.name, truth: test.labels[k]!, predicted: predicted[k]! }];
  });
  const saliency = saliencyGallery(frozenClassifier, prepared.images, saliencyCases, recipe, classes);
  const saliencySeconds = (performance.now() - saliencyStarted) / 1000;
  log(`saliency: Grad-CAM at ${saliency.layer} for ${saliency.entries.length} test images in ${saliencySeconds.toFixed(1)} s`);

  // Second reader
  const readerCorrect = readerLabels ? test.indices.map((i, k) => (readerLabels.byItem.has(i) ? readerLabels.byItem.get(i) === test.labels[k] : undefined)) : undefined;

  // t-SNE of the penultimate features of the training set, or of a seeded sample of it (exact t-SNE costs n^2)
  const tsneStarted = performance.now();
  const tsneRows = sampleIndices(train.features.count, TSNE_MAX_POINTS, config.seed);
  const trainHidden = predict(head.net, plan, selectRows(train.features, tsneRows), true).penultimate!;
  const map = tsne(trainHidden.data, trainHidden.count, trainHidden.dimension, { seed: config.seed });
  const tsneSeconds = (performance.now() - tsneStarted) / 1000;

  // Baseline from scratch
  const scratch = config.fromScratch
    ? trainFromScratch(prepared.images, items.map((item) => item.label), { train: train.indices, val: validation.indices, test: test.indices }, classes.length, {
        iterations: config.scratchIter,
        seed: config.seed,
        studies: items.map((item) => item.study),
      })
    : undefined;
  if (scratch) log(`from scratch: test accuracy ${(scratch.accuracy * 100).toFixed(1)}% (95% CI ${(scratch.ci95[0] * 100).toFixed(1)}-${(scratch.ci95[1] * 100).toFixed(1)}%)`);

  // The retrained model, as Caffe files
  const exported = exportModel(model.def, plan, head.net.layer.bind(head.net), model.net.layer.bind(model.net), classes.length);

  const misclassified: MisclassifiedCase[] = [];
  const thumbnails: Record<string, string> = {};
  predicted.forEach((p, k) => {
    if (p === test.labels[k]) return;
    const item = items[test.indices[k]!]!;
    const reader = readerLabels?.byItem.get(test.indices[k]!);
    misclassified.push({
      path: item.name,
      study: item.study,
      true: classes[test.labels[k]!]!,
      predicted: classes[p]!,
      probability: testPrediction.probabilities[k * classes.length + p]!,
      reader: reader === undefined ? undefined : classes[reader],
    });
    const image = prepared.images[test.indices[k]!]!;
    if (misclassified.length <= GALLERY_THUMBNAILS) thumbnails[item.name] = galleryThumbnail(image.data, image.width, image.height);
  });

  const table = splitTable(items, classes);
  const totalSeconds = (performance.now() - started) / 1000;
  const report: Report = {
    format: 1,
    title: config.title ?? `Frozen-base transfer: ${config.base ?? basename(config.prototxt)} on ${basename(config.data)}`,
    synthetic: config.synthetic === true,
    created: new Date().toISOString(),
    run_id: sha1(`${modelKey}${config.seed}${Date.now()}`).slice(0, 12),
    config: jsonConfig(config, plan, recipe, settings, train.features.count),
    classes,
    dataset: {
      source: dataset.source,
      counts: {
        train: { images: table.total.train, studies: table.studies.train },
        validation: { images: table.total.val, studies: table.studies.val },
        test: { images: table.total.test, studies: table.studies.test },
        total: { images: table.total.total, studies: table.studies.total },
        excluded: dataSummary.excluded.length,
      },
      split: table.rows.map((row) => ({ class: row.name, train: row.train, validation: row.val, test: row.test, total: row.total })),
      excluded: dataSummary.excluded,
      problems: [...dataSummary.warnings, ...dataSummary.notes],
    },
    training: {
      iterations: head.loss.length,
      batch_size: settings.batchSize === 0 ? train.features.count : Math.min(settings.batchSize, train.features.count),
      loss: head.loss,
      validation: head.validation,
    },
    test: {
      count: correct.length,
      accuracy,
      ci95: [interval.low, interval.high],
      studies: new Set(studies).size,
      confusion,
      per_class: perClass.map((scores, k) => ({
        class: classes[k]!,
        precision: scores.precision,
        recall: scores.recall,
        f1: scores.f1,
        auc: finiteOrNull(roc[k]!.auc),
        support: scores.support,
      })),
      auc: finiteOrNull(auc),
      auc_ci95: aucInterval.every(Number.isFinite) ? aucInterval : null,
      specificity,
      macro: macroAverage(perClass),
      misclassified,
    },
    timing: {
      features_per_second: extraction.imagesPerSecond,
      total_seconds: totalSeconds,
      feature_seconds: extraction.seconds,
      features_computed: extraction.computed,
      features_from_cache: items.length - extraction.computed,
      augmented_features_computed: augmentedComputed,
      train_seconds: head.seconds,
      tsne_seconds: tsneSeconds,
      // The map's points: every training row, or a sample of TSNE_MAX_POINTS of them.
      tsne_points: tsneRows.length,
      ...(scratch ? { scratch_seconds: scratch.seconds } : {}),
      ...(curve ? { learning_curve_seconds: curveSeconds } : {}),
      ...(fine ? { fine_tune_seconds: fine.seconds } : {}),
      saliency_seconds: saliencySeconds,
    },
  };
  if (curve) report.learning_curve = curve;
  report.saliency = saliency.entries;
  if (fine && fineTest) {
    report.fine_tune = { from: config.fineTuneFrom!, test: fineTest, seconds: fine.seconds };
    report.fine_tune_validation = { iterations: fine.loss.length, before: fine.before, after: fine.after };
  }
  if (scratch) report.baseline = { architecture: scratch.architecture, iterations: scratch.iterations, accuracy: scratch.accuracy, ci95: scratch.ci95 };
  if (readerLabels && readerCorrect) {
    const both = readerCorrect.flatMap((r, k) => (r === undefined ? [] : [k]));
    const comparison = readerComparison(both.map((k) => correct[k]!), both.map((k) => readerCorrect[k]!));
    report.reader = {
      source: config.readerLabels,
      count: both.length,
      accuracy: comparison.readerAccuracy,
      network_accuracy: both.filter((k) => correct[k]).length / Math.max(1, both.length),
      venn: { bothRight: comparison.bothRight, networkOnly: comparison.networkOnly, readerOnly: comparison.readerOnly, neither: comparison.neither },
      mcnemar_p: comparison.mcnemarP,
      unmatched: readerLabels.unmatched,
    };
  }

  const conv1 = plan.firstConvolution ? model.net.layer(plan.firstConvolution).params[0] : undefined;
  mkdirSync(out, { recursive: true });
  await writeFileAtomic(join(out, 'deploy.prototxt'), exported.prototxt);
  await writeFileAtomic(join(out, 'retrained.caffemodel'), exported.caffemodel);
  await writeFileAtomic(join(out, 'classes.txt'), `${classes.join('\n')}\n`);
  await writeFileAtomic(join(out, 'experiment.json'), `${JSON.stringify(config, null, 2)}\n`);
  report.timing.total_seconds = (performance.now() - started) / 1000;
  await renderAndWriteReport(out, report, {
    tsne: {
      embedding: map.embedding,
      labels: tsneRows.map((row) => train.labels[row]!),
      caption:
        tsneRows.length < train.features.count
          ? `t-SNE of the ${plan.penultimateBlob} features of a random sample of ${tsneRows.length} of the ${train.features.count} training rows (exact t-SNE grows as n², so larger sets are sampled)`
          : `t-SNE of the ${plan.penultimateBlob} features of the ${train.indices.length} training images`,
    },
    conv1: conv1 && conv1.shape.length === 4 && conv1.shape[1] === 3 ? { weights: conv1.data.data, shape: conv1.shape as [number, number, number, number], channelOrder: recipe.channelOrder } : undefined,
    thumbnails,
    roc,
    saliency: { uris: saliency.uris, files: saliency.files, layer: saliency.layer },
    learningCurveAll: Math.max(...classes.map((_, c) => new Set(train.indices.filter((i) => labelsOf[i] === c).map((i) => studiesOf[i])).size)),
  });
  return report;
}

/** Class probabilities of `rows` of `images` through a whole classifier, averaged with their mirror images' when `mirrorViews`. */
function classifyViews(net: Net, plan: TransferPlan, images: readonly StoredImage[], rows: readonly number[], recipe: InputRecipe, mirrorViews: boolean): Float32Array {
  const plain = classify(net, plan, images, rows, recipe);
  if (!mirrorViews) return plain;
  const flipped = classify(net, plan, images, rows, { ...recipe, flip: true });
  return plain.map((p, i) => (p + flipped[i]!) / 2);
}

/** Accuracy of class probabilities (`count x classes`) against labels, with its cluster-bootstrap interval over studies. */
function testWithCI(probabilities: Float32Array, labels: readonly number[], studies: readonly string[], seed: number): { accuracy: number; ci95: [number, number] } {
  const right = argmaxRows(probabilities, probabilities.length / labels.length).map((p, k) => p === labels[k]);
  const ci = bootstrapAccuracyCI(right, studies, { seed });
  return { accuracy: ci.estimate, ci95: [ci.low, ci.high] };
}

/** JSON has no NaN: an undefined AUC is written as null. */
function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function headSettings(config: ExperimentConfig): HeadTraining {
  let solver: SolverParams = {
    type: 'SGD',
    baseLr: config.baseLr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    lrPolicy: config.lrPolicy,
    gamma: config.gamma,
    stepsize: config.stepsize,
  };
  let maxIter = config.maxIter;
  if (config.solver) {
    const s = readSolverPrototxtFile(config.solver);
    solver = {
      type: (s.type as SolverParams['type']) ?? 'SGD',
      baseLr: s.base_lr ?? solver.baseLr,
      momentum: s.momentum ?? solver.momentum,
      weightDecay: s.weight_decay ?? solver.weightDecay,
      lrPolicy: (s.lr_policy as SolverParams['lrPolicy']) ?? solver.lrPolicy,
      gamma: s.gamma ?? solver.gamma,
      power: s.power,
      stepsize: s.stepsize ?? solver.stepsize,
      stepvalue: s.stepvalue,
      iterSize: s.iter_size,
      clipGradients: s.clip_gradients,
      momentum2: s.momentum2,
      delta: s.delta,
      maxIter: s.max_iter,
    };
    maxIter = s.max_iter ?? maxIter;
  }
  return {
    batchSize: config.batchSize,
    maxIter,
    validationInterval: config.validationInterval,
    patience: config.patience,
    keepBest: config.keepBest,
    solver: { maxIter, ...solver },
    seed: config.seed,
  };
}

/**
 * The retrained classifier as Caffe files: the model's base layers, the head with
 * the new classifier, and a Softmax `prob`, with the trained head weights.
 */
function exportModel(
  def: NetDef,
  plan: TransferPlan,
  headLayer: (name: string) => { params: Param[] },
  baseLayer: (name: string) => { params: Param[] },
  numClasses: number,
): { prototxt: string; caffemodel: Uint8Array } {
  const classifierTop = plan.headLayers[plan.headLayers.length - 1]!.top![0]!;
  const layers: LayerDef[] = [...plan.baseLayers, ...plan.headLayers, { name: 'prob', type: 'Softmax', bottom: [classifierTop], top: ['prob'] }];
  const deploy: NetDef = { name: `${def.name ?? 'net'}_transfer_${numClasses}`, layers };
  const headNames = new Set(plan.headLayers.map((layer) => layer.name));
  const parameter = toNetParameter(deploy, (name) => (headNames.has(name) ? headLayer(name).params : plan.baseLayers.some((l) => l.name === name) ? baseLayer(name).params : undefined));
  const { layer, ...rest } = parameter;
  return {
    prototxt: formatPrototxt({ ...rest, layer: layer?.map(({ blobs: _blobs, ...withoutBlobs }) => withoutBlobs) }, 'NetParameter'),
    caffemodel: writeCaffemodel(parameter),
  };
}

function jsonConfig(config: ExperimentConfig, plan: TransferPlan, recipe: InputRecipe, settings: HeadTraining, trainingRows: number): Report['config'] {
  const { quiet: _quiet, ...rest } = config;
  return JSON.parse(
    JSON.stringify({
      ...rest,
      cut_layer: plan.cutLayer,
      training_rows: trainingRows,
      feature_blob: plan.cutBlob,
      feature_shape: plan.featureShape,
      classifier: `${plan.classifier} -> ${plan.newClassifier}`,
      recipe: recipeKey(recipe),
      resize_filter: 'area averaging when shrinking, bilinear when enlarging',
      solver: settings.solver,
    }),
  );
}

export type { DatasetItem, StoredImage };
