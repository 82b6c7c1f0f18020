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

/** The MobileNet v1 0.5 160 ImageNet model of the shared fixtures. */
export function mobilenet(): { prototxt: string; weights: string } {
  const dir = shared('fixtures/imagenet/mobilenet_v1_0.5_160');
  return { prototxt: `${dir}/deploy.prototxt`, weights: `${dir}/mobilenet_v1_0.5_160.caffemodel` };
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
