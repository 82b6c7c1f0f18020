import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { shutdownPool } from '@cnn/tensor';
import { packageVersion } from './version.js';
import { resolveConfig, SETTING_RULES, type ExperimentConfig } from './config.js';
import { checkedOption, choiceOption, numberOption, RULES } from './options.js';
import { parseMeanValues } from './commands/input.js';
import { parseLearningCurve } from './transfer/learning-curve.js';
import { printError, printEscaped, printNote } from './terminal.js';
import { DEFAULT_MAX_PIXELS } from './data/index.js';
import { runExperiment } from './experiment.js';
import { ExperimentError } from './errors.js';
import { runDefaultExperiment } from './demo/default.js';
import { classifyFailures, formatClassify, runClassify, type ClassifyOptions } from './commands/classify.js';
import { fetchModel, formatFetch, MODEL_ZOO, type FetchOptions } from './commands/fetch-model.js';
import { formatFeatures, runFeatures, type FeaturesOptions } from './commands/features.js';
import { formatForward, runForward, type ForwardOptions } from './commands/forward.js';
import { formatInspect, runInspect } from './commands/inspect.js';
import { runLabelCommand, type LabelOptions } from './label/index.js';
import { runServeCommand, type ServeCommandOptions } from './serve/index.js';

/**
 * The `cnn` command. Returns the process exit code; errors are printed as one
 * clear line (their type and message), never as a stack trace for a user mistake. Everything
 * printed passes through terminal.ts, which escapes the control characters a file may hold.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('cnn')
    .description('A native-free CNN toolkit: Caffe models, multi-core kernels, and a frozen-base transfer experiment.')
    .version(packageVersion(), '-v, --version')
    .exitOverride()
    .showHelpAfterError();

  withFeatureOptions(
    program
      .command('experiment')
      .description('the frozen-base transfer experiment: retrain the head of a pretrained Caffe model on a folder or CSV of images'),
  )
    .option('--out <dir>', 'output folder for report.json, report.html, figures and the retrained model')
    .option('--resume', 'continue head training from the checkpoint of an interrupted run in --out (cached features are always reused)')
    .option('--force', 'replace the results of an earlier run in --out (without it, a folder holding a finished run is refused)')
    .option('--seed <n>', 'seed of the split, the head initialisation and the batches', numberOption(SETTING_RULES.seed))
    .option('--max-iter <n>', 'head training iterations', numberOption(SETTING_RULES.maxIter))
    .option('--batch-size <n>', 'head training batch (default 0: every training row, full-batch; the study: 256)', numberOption(SETTING_RULES.batchSize))
    .option('--base-lr <x>', 'base learning rate', numberOption(SETTING_RULES.baseLr))
    .option('--weight-decay <x>', "head training weight decay: the logistic regression's L2 strength (default 0.01)", numberOption(SETTING_RULES.weightDecay))
    .option('--keep-best', 'keep the head weights of the best validation accuracy, not the last (early stopping)')
    .option('--mirror-views', 'train on each image and its mirror image, and average both views at validation and test (the default)')
    .option('--no-mirror-views', 'one view of each image: no mirrored training rows, no test-time averaging')
    .option('--validation-interval <n>', 'iterations between validation measurements', numberOption(SETTING_RULES.validationInterval))
    .option('--patience <n>', 'early stopping: validation measurements without improvement (0 = off)', numberOption(SETTING_RULES.patience))
    .option('--solver <file>', 'a solver.prototxt for head training')
    .option('--from-scratch', 'also train a small CNN from random weights on the same split (the baseline)')
    .option('--scratch-iter <n>', 'iterations of the from-scratch baseline', numberOption(SETTING_RULES.scratchIter))
    .option('--reader-labels <csv>', "a second reader's labels of the test images (path,label)")
    .option('--learning-curve <list>', 'labelled training studies per class to retrain on, e.g. 2,4,8,16,all (on by default in the demo)', checkedOption(parseLearningCurve))
    .option('--learning-curve-draws <n>', 'seeded draws of the training studies per learning-curve point', numberOption(SETTING_RULES.learningCurveDraws))
    .option('--fine-tune-from <layer>', 'after the head, also train the base from this layer on, on augmented images (MobileNet: conv6/dw is the last block)')
    .option('--fine-tune-iter <n>', 'fine-tuning iterations', numberOption(SETTING_RULES.fineTuneIter))
    .option('--fine-tune-batch <n>', 'fine-tuning batch of images', numberOption(SETTING_RULES.fineTuneBatch))
    .option('--fine-tune-lr <x>', 'fine-tuning base learning rate (times each layer\'s lr_mult)', numberOption(SETTING_RULES.fineTuneLr))
    .option('--fine-tune-weight-decay <x>', 'fine-tuning weight decay', numberOption(SETTING_RULES.fineTuneWeightDecay))
    .option('--saliency-per-class <n>', 'Grad-CAM overlays: every misclassified test image and n correct ones per class', numberOption(SETTING_RULES.saliencyPerClass))
    .option('--augment <n>', 'training augmentation: n extra random-crop/mirror versions of each training image', numberOption(SETTING_RULES.augment))
    .option('--split-column <name>', 'CSV column holding a fixed train/val/test split')
    .option('--quiet', 'no progress output')
    .option('--pretrain-mini', 'demo only (no --data): pretrain a mini CaffeNet on synthetic shapes as the base instead of the shipped ImageNet MobileNet')
    .action(async (options: ExperimentOptions) => {
      const { config: configFile, pretrainMini, ...rest } = options;
      const given: Partial<ExperimentConfig> = { ...rest, keepColour: rest.keepColour, fromScratch: rest.fromScratch };
      const demo = given.data === undefined && configFile === undefined;
      if (demo && (given.prototxt !== undefined || given.weights !== undefined)) {
        // The built-in demo brings its own model; running it would silently ignore the one given.
        throw new ExperimentError(`${given.prototxt !== undefined ? '--prototxt' : '--weights'} given without --data: give the images to train on with --data DIR|CSV (the built-in demo runs only when no model is given)`);
      }
      const result =
        demo
          ? await runDefaultExperiment(given, printEscaped, { pretrainMini })
          : await runExperiment(resolveConfig(given, configFile), printEscaped);
      printEscaped(result.html);
    });

  withFeatureOptions(
    program
      .command('features')
      .description("extract one shard's features into the feature cache of cnn experiment (same data, model and recipe settings), to run shards in parallel on a cluster (docs/SCALE.md)"),
  )
    .option('--shard <K/N>', 'shard K of N, K from 0 (studies never span two); default: JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID, else the whole data set')
    .option('--shards <n>', 'the number of shards N, when the job system gives only the index (a Kubernetes Indexed Job)', numberOption(RULES.positive))
    .option('--quiet', 'no progress output')
    .action(async (options: FeaturesOptions) => {
      printEscaped(formatFeatures(await runFeatures(options)));
    });

  program
    .command('bench')
    .description('run the benchmark suites (from a checkout of the repository) and update bench/RESULTS.md')
    .option('--suite <names>', 'comma-separated suites to run', 'gemm')
    .action(async (options: { suite: string }) => {
      const bench = await importBench();
      await bench.runSuites(options.suite.split(','));
    });

  program
    .command('inspect')
    .description('what a .caffemodel holds: format (V1/V2), each layer with type, blob shapes and parameters, size, sha1, load time')
    .argument('<model>', 'the .caffemodel file')
    .option('--prototxt <file>', 'also build the net from this definition with these weights and show its summary')
    .option('--json', 'print the report as JSON')
    .action((model: string, options: { prototxt?: string; json?: boolean }) => {
      const report = runInspect(model, { prototxt: options.prototxt });
      printEscaped(options.json ? JSON.stringify(report, null, 2) : formatInspect(report));
    });

  withPreprocessOptions(
    program
      .command('forward')
      .description("run a net once and write every layer's top blob (raw little-endian float32) and index.json to a folder")
      .requiredOption('--prototxt <file>', 'the net definition (deploy.prototxt)')
      .option('--weights <file>', 'the trained weights (.caffemodel)')
      .requiredOption('--input <file>', 'a raw float32 tensor (with --shape) or an image (PNG, JPEG, DICOM)')
      .option('--shape <N,C,H,W>', 'the shape of a raw float32 input')
      .requiredOption('--out <dir>', 'output folder (index.json and one <layer>.f32 per layer)')
      .option('--outputs <layers>', 'comma-separated layers: write only their blobs (for timing runs)')
      .option('--allow-missing-weights', 'run even when --weights lacks layers that have parameters (they keep their fillers)'),
  ).action((options: ForwardOptions) => {
    printEscaped(formatForward(runForward(options, printNote), options.out));
  });

  withPreprocessOptions(
    program
      .command('classify')
      .description('the top-5 classes of each image (PNG, JPEG, DICOM) with their probabilities')
      .argument('<images...>', 'image files')
      .requiredOption('--prototxt <file>', 'the net definition (deploy.prototxt)')
      .requiredOption('--weights <file>', 'the trained weights (.caffemodel)')
      .option('--labels <file>', 'class names, one per line (synset_words.txt, labels.txt)')
      .option('--blob <name>', 'the blob with the class scores (default: the top of the last layer)')
      .option('--top <n>', 'how many classes to show', numberOption(RULES.positive), 5)
      .option('--saliency <dir>', "write each image's Grad-CAM overlay for its top class (at the last convolution) into this folder")
      .option('--json', 'print the results as JSON')
      .option('--allow-missing-weights', 'run even when --weights lacks layers that have parameters (they keep their fillers)'),
  ).action((images: string[], options: ClassifyOptions & { json?: boolean }) => {
    const report = runClassify(images, options);
    printEscaped(options.json ? JSON.stringify(report, null, 2) : formatClassify(report));
    const failures = classifyFailures(report);
    if (failures) throw failures;
  });

  program
    .command('fetch-model')
    .description(`download pretrained weights from the Caffe model zoo, resuming a partial download and checking the sha1 (${Object.keys(MODEL_ZOO).join(', ')})`)
    .argument('<name>', `the model: ${Object.keys(MODEL_ZOO).join(', ')}`)
    .option('--dir <dir>', 'where to save it (default models/<model folder>)')
    .option('--url <url>', "download from here instead of the zoo's address")
    .option('--sha1 <hex>', 'expect this sha1 instead of the published one')
    .option('--bytes <n>', 'expect this size instead of the published one (nothing past it is downloaded)', numberOption(RULES.positive))
    .option('--quiet', 'no progress bar')
    .action(async (name: string, options: FetchOptions) => {
      printEscaped(formatFetch(await fetchModel(name, options)));
    });

  program
    .command('label')
    .description("a local web page to label images, run a blinded reader study, or settle two label files' disagreements; every label is saved the moment it is given")
    .option('--data <dir|csv>', 'the images: a folder (any depth) or a CSV with a path column (label, study, split optional)')
    .option('--classes <a,b,c>', 'the class names, comma-separated, in button order')
    .option('--classes-file <file>', 'the class names, one a line')
    .requiredOption('--out <csv>', 'the label file (path,label,labeller,timestamp[,seconds]); an existing one is resumed')
    .option('--port <n>', 'port to listen on (default: a free one)', numberOption(RULES.port))
    .option('--host <address>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 opens it to the network)')
    .option('--labeller <name>', 'name written into each row (default: the OS user)')
    .option('--root <dir>', 'the folder images may be served from, when a CSV names images outside its own folder')
    .option('--reader-study', 'blinded reader study: seeded random order, no names, studies or labels shown, time per image recorded')
    .option('--experiment <report.json>', "reader study of an experiment's test split (its data, seed and split settings)")
    .option('--split <name>', 'reader study of this split (train, val, test) of --data, as cnn experiment splits it', choiceOption(['train', 'val', 'test']))
    .option('--seed <n>', 'the seed of that split (cnn experiment --seed; default 1)', numberOption(RULES.integer))
    .option('--split-column <name>', 'CSV column holding a fixed split (cnn experiment --split-column)')
    .option('--order-seed <n>', 'reader study: seed of the random order (default 1)', numberOption(RULES.integer))
    .option('--max-megapixels <n>', `refuse images declaring more pixels than this (default ${DEFAULT_MAX_PIXELS / 1e6}; guards against decompression bombs)`, numberOption(RULES.rate))
    .option('--review <files...>', 'two label files: step through the images they label differently and settle each')
    .option('--model <dir>', "an experiment's output folder: its model suggests a label (with its confidence) for each image; the file records whether the label is the suggestion (not in reader studies)")
    .option('--order <order>', 'study (images of one study together) or uncertainty (the least confident suggestions first; needs --model)', choiceOption(LABEL_ORDERS))
    .action(async (options: LabelOptions) => {
      await runLabelCommand(options, printEscaped);
    });

  withPreprocessOptions(
    program
      .command('serve')
      .description("local web pages running the library in the browser: /learn (a convolution step by step, a small CNN training live) and /classify (a model in the page)")
      .option('--model <dir>', "an experiment's output folder (deploy.prototxt, retrained.caffemodel, classes.txt; its experiment.json gives the input recipe)")
      .option('--port <n>', 'port to listen on (default: a free one)', numberOption(RULES.port))
      .option('--host <address>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 opens it to the network)'),
  ).action(async (options: ServeCommandOptions) => {
    await runServeCommand(options, printEscaped);
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    printError(error instanceof Error ? error : new Error(String(error)));
    return 1;
  } finally {
    await shutdownPool();
  }
}

interface ExperimentOptions extends Partial<ExperimentConfig> {
  config?: string;
  pretrainMini?: boolean;
}

/**
 * The settings that decide the features, shared by `experiment` and `features` so a shard
 * computes exactly the entries the experiment looks up: data, model, recipe, cut, colour rule, cache.
 */
function withFeatureOptions(command: Command): Command {
  return command
    .option('--data <dir|csv>', 'a folder of class subfolders, or a CSV manifest path,label[,study][,split]')
    .option('--prototxt <file>', 'the model definition (deploy.prototxt); default: the shipped ImageNet MobileNet (or CaffeNet once fetched)')
    .option('--weights <file>', 'the pretrained weights (.caffemodel); give both or neither')
    .option('--mean <file>', 'mean image (.binaryproto) for the caffenet preset (default: mean values 104/117/123)')
    .option('--preset <name>', 'input recipe: caffenet (BGR, mean, 227 crop) or mobilenet (RGB, (x-128)/128)', choiceOption(PRESETS))
    .option('--channel-order <order>', 'over the preset: BGR or RGB', choiceOption(CHANNEL_ORDERS))
    .option('--mean-values <b,g,r>', 'over the preset: per-channel means, in the channel order', checkedOption(parseMeanValues))
    .option('--scale <x>', 'over the preset: multiplies (pixel - mean)', numberOption(SETTING_RULES.scale))
    .option('--resize <n>', 'over the preset: side of the square the image is resized to', numberOption(SETTING_RULES.resize))
    .option('--crop <n>', 'over the preset: side of the centre crop after the resize', numberOption(SETTING_RULES.crop))
    .option('--config <file>', 'experiment.json with any of these settings (command-line options win)')
    .option('--freeze-until <layer>', 'last frozen layer (default: the last pooling before the first fully connected layer)')
    .option('--keep-colour', 'keep images carrying colour (Doppler, coloured marks) instead of excluding them')
    .option('--max-megapixels <n>', `skip and list images declaring more pixels than this (default ${DEFAULT_MAX_PIXELS / 1e6}; guards against decompression bombs)`, numberOption(SETTING_RULES.maxMegapixels))
    .option('--allow-outside-data', 'use manifest paths and symlinks that lead outside the data folder (default: refused and listed)')
    .option('--cache-dir <dir>', 'where features are cached between runs');
}

/** The image preprocessing flags that `forward`, `classify` and `serve` share (see commands/input.ts). */
function withPreprocessOptions(command: Command): Command {
  return command
    .option('--preset <name>', 'caffenet (BGR, mean 104/117/123, resize 256, crop 227) or mobilenet (RGB, (x - 128) / 128, resize to the input)', choiceOption(PRESETS))
    .option('--mean-file <file>', 'mean image .binaryproto, in the net\'s channel order (the image is resized to its size)')
    .option('--mean-values <B,G,R>', "per-channel means in the net's channel order, or one value for all", checkedOption(parseMeanValues))
    .option('--scale <x>', 'multiply (pixel - mean) by x (Caffe transform_param scale)', numberOption(RULES.number))
    .option('--channel-order <order>', 'BGR (Caffe) or RGB', choiceOption(CHANNEL_ORDERS))
    .option('--resize <n>', 'resize the whole image to n x n (default: the net input, or the mean image size)', numberOption(RULES.positive))
    .option('--crop <n>', 'centre crop n x n after resizing', numberOption(RULES.positive))
    .option('--max-megapixels <n>', `refuse images declaring more pixels than this (default ${DEFAULT_MAX_PIXELS / 1e6}; guards against decompression bombs)`, numberOption(RULES.rate));
}

const PRESETS = ['caffenet', 'mobilenet'] as const;
const LABEL_ORDERS = ['study', 'uncertainty'] as const;
const CHANNEL_ORDERS = ['BGR', 'RGB'] as const;

interface BenchModule {
  runSuites(names: string[]): Promise<void>;
}

async function importBench(): Promise<BenchModule> {
  try {
    // The benchmarks are a workspace of the repository, not a dependency of this package.
    const specifier: string = '@cnn/bench';
    return (await import(specifier)) as BenchModule;
  } catch (error) {
    throw new Error(`cnn bench runs from a checkout of the repository (npm ci there first): ${(error as Error).message}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
