import { vi } from 'vitest';
import { main } from '@cnn/experiment';

/** What a `cnn` command printed and its exit code. */
export interface CnnRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `cnn` command in this process (its `main`, as the bin calls it) and captures what it
 * prints: much faster than a child process, and the same code path from argv to exit code.
 */
export async function cnn(...args: string[]): Promise<CnnRun> {
  let stdout = '';
  let stderr = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
    stdout += `${parts.join(' ')}\n`;
  });
  const warn = vi.spyOn(console, 'warn').mockImplementation((...parts: unknown[]) => {
    stderr += `${parts.join(' ')}\n`;
  });
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    log.mockRestore();
    warn.mockRestore();
    out.mockRestore();
    err.mockRestore();
  }
}
