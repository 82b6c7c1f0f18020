import cliProgress from 'cli-progress';

/** Reports progress of a long job: a live bar on a terminal, a line per tenth otherwise. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

/**
 * A progress bar with items/s and ETA on stderr (cli-progress) when stderr is a
 * terminal; in logs and CI, one line at every tenth of the work instead.
 * `quiet` shows nothing.
 */
export function startProgress(label: string, total: number, unit: string, quiet = false): Progress {
  const started = performance.now();
  const rate = (done: number): number => done / Math.max(1e-9, (performance.now() - started) / 1000);
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: '0.0' });
    return {
      update: (done) => bar.update(done, { rate: rate(done).toFixed(1) }),
      stop: () => bar.stop(),
    };
  }
  let nextTenth = 1;
  return {
    update: (done) => {
      if (total === 0 || done < (nextTenth * total) / 10) return;
      while (done >= (nextTenth * total) / 10) nextTenth++;
      const eta = (total - done) / Math.max(1e-9, rate(done));
      process.stderr.write(`${label}: ${done}/${total} ${unit}, ${rate(done).toFixed(1)} ${unit}/s, ETA ${eta.toFixed(0)} s\n`);
    },
    stop: () => undefined,
  };
}
