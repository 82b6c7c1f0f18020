import { availableParallelism, cpus } from 'node:os';

/** The machine a benchmark ran on, as printed in bench/RESULTS.md. */
export function describeMachine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpu}, ${availableParallelism()} cores, Node ${process.version}, ${process.platform}-${process.arch}, ${new Date().toISOString().slice(0, 10)}`;
}
