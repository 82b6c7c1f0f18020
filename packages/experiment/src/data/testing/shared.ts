import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root (this file is packages/experiment/{src,dist}/data/testing/shared). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..');

/**
 * `../shared/data` next to the repository, which holds the real ultrasound manifests.
 * Throws when it is missing: tests over real data must fail loudly, never skip quietly.
 */
export function sharedDataDir(): string {
  const dir = path.resolve(REPO_ROOT, '../shared/data');
  if (!existsSync(path.join(dir, 'busi/manifest.csv')) || !existsSync(path.join(dir, 'usanotai/manifest.csv'))) {
    throw new Error(`the shared data sets are missing: expected ${dir}/{busi,usanotai}/manifest.csv (see shared/data/README.md)`);
  }
  return dir;
}
