import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { shutdownPool } from '@cnn/tensor';
import { packageVersion } from './version.js';

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
