import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { shutdownPool } from '@cnn/tensor';
import { packageVersion } from './version.js';
import { resolveConfig, type ExperimentConfig } from './config.js';
import { runExperiment } from './experiment.js';
import { runDefaultExperiment } from './demo/default.js';

/**
 * The `cnn` command. Returns the process exit code; errors are printed as one
 * clear line (their type and message), never as a stack trace for a user mistake.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('cnn')
    .description('A native-free CNN toolkit: Caffe models, multi-core kernels, and a frozen-base transfer experiment.')
    .version(packageVersion(), '-v, --version')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('experiment')
    .description('the frozen-base transfer experiment: retrain the head of a pretrained Caffe model on a folder or CSV of images')
    .option('--data <dir|csv>', 'a folder of class subfolders, or a CSV manifest path,label[,study][,split]')
    .option('--prototxt <file>', 'the model definition (deploy.prototxt)')
    .option('--weights <file>', 'the pretrained weights (.caffemodel)')
    .option('--mean <file>', 'mean image (.binaryproto) for the caffenet preset (default: mean values 104/117/123)')
    .option('--preset <name>', 'input recipe: caffenet (BGR, mean, 227 crop) or mobilenet (RGB, (x-128)/128)')
    .option('--config <file>', 'experiment.json with any of these settings (command-line options win)')
    .option('--out <dir>', 'output folder for report.json, report.html, figures and the retrained model')
    .option('--resume', 'reuse the features already cached by an interrupted run (they always are)')
    .option('--freeze-until <layer>', 'last frozen layer (default: the last pooling before the first fully connected layer)')
    .option('--seed <n>', 'seed of the split, the head initialisation and the batches', toInteger)
    .option('--max-iter <n>', 'head training iterations', toInteger)
    .option('--batch-size <n>', 'head training batch (the study: 256)', toInteger)
    .option('--base-lr <x>', 'base learning rate', Number)
    .option('--validation-interval <n>', 'iterations between validation measurements', toInteger)
    .option('--patience <n>', 'early stopping: validation measurements without improvement (0 = off)', toInteger)
    .option('--solver <file>', 'a solver.prototxt for head training')
    .option('--from-scratch', 'also train a small CNN from random weights on the same split (the baseline)')
    .option('--scratch-iter <n>', 'iterations of the from-scratch baseline', toInteger)
    .option('--reader-labels <csv>', "a second reader's labels of the test images (path,label)")
    .option('--keep-colour', 'keep images carrying colour (Doppler, coloured marks) instead of excluding them')
    .option('--split-column <name>', 'CSV column holding a fixed train/val/test split')
    .option('--cache-dir <dir>', 'where features are cached between runs')
    .option('--quiet', 'no progress output')
    .action(async (options: ExperimentOptions) => {
      const { config: configFile, ...rest } = options;
      const given: Partial<ExperimentConfig> = { ...rest, keepColour: rest.keepColour, fromScratch: rest.fromScratch };
      const result =
        given.data === undefined && configFile === undefined
          ? await runDefaultExperiment(given)
          : await runExperiment(resolveConfig(given, configFile));
      console.log(result.html);
    });

  program
    .command('bench')
    .description('run the benchmark suites (from a checkout of the repository) and update bench/RESULTS.md')
    .option('--suite <names>', 'comma-separated suites to run', 'gemm')
    .action(async (options: { suite: string }) => {
      const bench = await importBench();
      await bench.runSuites(options.suite.split(','));
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const err = error instanceof Error ? error : new Error(String(error));
    process.stderr.write(`cnn: ${err.name}: ${err.message}\n`);
    return 1;
  } finally {
    await shutdownPool();
  }
}

interface ExperimentOptions extends Partial<ExperimentConfig> {
  config?: string;
}

function toInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new CommanderError(1, 'cnn.invalidInteger', `not an integer: ${value}`);
  return n;
}

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
