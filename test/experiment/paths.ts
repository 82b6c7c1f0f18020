import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** `<repo root>/../shared/<relative>`; a missing shared folder fails the test loudly, never skips it. */
export function shared(relative: string): string {
  const path = resolve(REPO_ROOT, '../shared', relative);
  if (!existsSync(path)) throw new Error(`${path} is missing: these tests need ../shared next to the repository (fixtures and data)`);
  return path;
}

/** An ImageNet MobileNet v1 of the shared fixtures: 0.5 160 (the smaller and faster, for tests) or 0.75 192 (the shipped base). */
export function mobilenet(model: 'mobilenet_v1_0.5_160' | 'mobilenet_v1_0.75_192' = 'mobilenet_v1_0.5_160'): { prototxt: string; weights: string } {
  const dir = shared(`fixtures/imagenet/${model}`);
  return { prototxt: `${dir}/deploy.prototxt`, weights: `${dir}/${model}.caffemodel` };
}

/** Fresh folders under the system's temporary folder, made by `make` and all removed by `removeAll` (in an afterAll). */
export function scratchFolders(): { make(prefix: string): string; removeAll(): void } {
  const made: string[] = [];
  return {
    make: (prefix) => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    removeAll: () => {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
