import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
// The README shows the example without its last line, which only hands the result to this test.
const example = readFileSync(new URL('./examples/nn-library.ts', import.meta.url), 'utf8').replace(/\nexport \{ correct \};\n$/, '\n');

describe('README', () => {
  it('starts with the two commands: the main job, then the tests', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!.trim().split('\n');
    expect(firstBlock).toEqual(['npm ci && npm run experiment', 'npm ci && npm test']);
  });

  it('shows the nn library example exactly as the file the tests run', () => {
    expect(readme).toContain(example.trim());
  });

  it('the library example trains a small net that then classifies new images', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const { correct } = (await import('./examples/nn-library.js')) as { correct: number };
    expect(correct).toBeGreaterThanOrEqual(15);
  });
});
