import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isProcessAlive } from './process-alive.js';

/**
 * An output folder (`--out`) cannot be used as asked: it cannot be written, it already holds a
 * run's results (and `--force` was not given), it holds files that are not a run's output, or
 * another run is writing it right now.
 */
export class OutFolderError extends Error {
  override readonly name = 'OutFolderError';
}

/** Options of openOutFolder. */
export interface OutFolderOptions {
  /** The command's word for the folder in messages (`--out`). */
  flag?: string;
  /**
   * The file whose presence marks a finished run's folder (`report.json`, `index.json`). It is
   * moved into place last, so a folder that has it is complete.
   */
  marker: string;
  /** Replace a folder that holds a finished run (never one holding other files). */
  force?: boolean;
  /** Continue in the partial folder an interrupted run left (its checkpoints), instead of starting afresh. */
  resume?: boolean;
  /** Paths inside the folder that are not results and stay where they are (a cache folder kept there). */
  keep?: readonly string[];
  /** Where to say what happened (an earlier run replaced, an interrupted one continued or cleared). */
  log?: (line: string) => void;
}

/**
 * A run's output folder, built beside its final place and moved there whole at the end, so a
 * crash or an error never leaves a partial `--out` folder, and an earlier run's results are not
 * replaced unless asked:
 *
 * - `dir` is the staging folder `.<name>.partial` next to `final`; the run writes everything there.
 *   A run that fails leaves it (with its checkpoints) for `--resume`; the next run without
 *   `--resume` clears it first.
 * - `commit()` moves the staged files into `final` (the marker file last), replacing the earlier
 *   run's files when `force` allowed it; when `final` does not exist yet, one rename moves the
 *   whole folder.
 * - A lock file holding the process id keeps two runs from writing one folder at once.
 */
export interface OutFolder {
  final: string;
  dir: string;
  commit(): void;
  /** The run failed: unlock the staging folder and keep what it holds (checkpoints) for a resume. */
  release(): void;
  /** The run failed and cannot be resumed: remove the staging folder. */
  abandon(): void;
}

const LOCK = '.lock';

/**
 * Checks the folder and prepares its staging folder (see OutFolder).
 * @throws OutFolderError when the folder cannot be written, holds a finished run and `force` is
 *   not set, holds files that are not a run's output, or another live process is writing it
 */
export function openOutFolder(out: string, options: OutFolderOptions): OutFolder {
  const flag = options.flag ?? '--out';
  const final = resolve(out);
  const parent = dirname(final);
  const staging = join(parent, `.${basename(final)}.partial`);
  const keep = new Set((options.keep ?? []).map((p) => resolve(p)).filter((p) => dirname(p) === final).map((p) => basename(p)));
  const log = options.log ?? (() => undefined);
  const fail = (message: string): never => {
    throw new OutFolderError(`${flag} ${final}: ${message}`);
  };

  try {
    mkdirSync(parent, { recursive: true });
  } catch (error) {
    fail(`cannot write there (${(error as Error).message})`);
  }
  const existing = results(final, keep, fail);
  if (existing.length > 0) {
    const finished = existing.includes(options.marker);
    if (!finished) {
      fail(`holds files that are not a finished run's output (${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', ...' : ''}); choose an empty or new folder`);
    }
    if (!options.force) fail(`already holds a finished run (${options.marker}); give --force to replace it, or choose another ${flag}`);
  }

  if (existsSync(staging)) {
    const owner = lockOwner(join(staging, LOCK));
    if (owner !== undefined) fail(`another run (process ${owner}) is writing it right now (in ${staging})`);
    if (options.resume) {
      log(`resuming in ${staging}, the partial output of an interrupted run`);
      rmSync(join(staging, LOCK), { force: true });
    } else {
      log(`cleared ${staging}, the partial output of an interrupted run (--resume would have continued it)`);
      rmSync(staging, { recursive: true, force: true });
    }
  }
  try {
    mkdirSync(staging, { recursive: true });
    // 'wx': of two runs starting at once, exactly one creates the lock.
    writeFileSync(join(staging, LOCK), `${process.pid}\n`, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') fail(`another run is writing it right now (in ${staging})`);
    fail(`cannot write there (${(error as Error).message})`);
  }

  const unlock = (): void => rmSync(join(staging, LOCK), { force: true });
  return {
    final,
    dir: staging,
    commit() {
      unlock();
      if (!existsSync(final)) {
        renameSync(staging, final);
        return;
      }
      const old = results(final, keep, fail);
      // The earlier run's files go aside first, so no file of it survives next to the new ones.
      const aside = join(parent, `.${basename(final)}.old-${process.pid}`);
      if (old.length > 0) {
        mkdirSync(aside, { recursive: true });
        for (const name of old) renameSync(join(final, name), join(aside, name));
      }
      const staged = readdirSync(staging).sort((a, b) => Number(a === options.marker) - Number(b === options.marker));
      for (const name of staged) renameSync(join(staging, name), join(final, name));
      rmSync(staging, { recursive: true, force: true });
      rmSync(aside, { recursive: true, force: true });
      if (old.length > 0) log(`replaced the earlier run in ${final} (--force)`);
    },
    release: unlock,
    abandon() {
      rmSync(staging, { recursive: true, force: true });
    },
  };
}

/** The entries of `folder` that belong to a run (all but `keep`); none when it does not exist. */
function results(folder: string, keep: ReadonlySet<string>, fail: (message: string) => never): string[] {
  if (!existsSync(folder)) return [];
  if (!statSync(folder).isDirectory()) fail('cannot write there (not a folder)');
  return readdirSync(folder).filter((name) => !keep.has(name));
}

/** The process id in a lock file if that process is alive (a lock of a dead process is stale). */
function lockOwner(lock: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && isProcessAlive(pid) ? pid : undefined;
}
