import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as nn from '@cnn/nn';
import * as tensor from '@cnn/tensor';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/shared.js';

/**
 * A page's pool workers find kernels by name among the exports of @cnn/tensor and @cnn/nn
 * (pool/web-worker.ts: a bundle has no module URL per kernel). A kernel missing there works in
 * Node and fails only in the browser, so every KernelRef and every declared pool job
 * (definePoolJob) in the packages' sources is checked.
 */
function kernelRefNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.parentPath.includes('test-fixtures'))
    .flatMap((entry) => {
      const text = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
      const refs = text.matchAll(/:\s*KernelRef\s*=\s*\{[^}]*name:\s*'(\w+)'/g);
      const jobs = text.matchAll(/definePoolJob\(\{\s*module:\s*import\.meta\.url,\s*name:\s*'(\w+)'/g);
      return [...refs, ...jobs].map((m) => m[1]!);
    });
}

it("every kernel the pool runs is exported by @cnn/tensor or @cnn/nn, where a page's pool workers look it up", () => {
  const names = ['tensor', 'nn'].flatMap((pkg) => kernelRefNames(path.join(REPO_ROOT, 'packages', pkg, 'src')));
  expect(names.length).toBeGreaterThanOrEqual(10);
  const served: Record<string, unknown> = { ...tensor, ...nn };
  expect(names.filter((name) => typeof served[name] !== 'function')).toEqual([]);
});
