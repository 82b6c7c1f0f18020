import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/shared.js';
import { scriptFiles, sourcePathImports } from './helpers/import-graph.js';

/*
 * The tests under test/ use the packages as their users do: by name (`@cnn/nn`,
 * `@cnn/experiment/label`, ...), through the exports each package.json declares. Vitest's
 * `source` condition resolves those names to the TypeScript sources, so no build is needed; a
 * test that needs something a package does not export either earns it a place in the public API
 * or lives beside the module, inside the package.
 */

describe('test/ imports the packages by their names', () => {
  it('flags a relative path into a package src/ and a package name followed by src/, and nothing else', () => {
    const file = path.join(REPO_ROOT, 'test', 'label', 'example.test.ts');
    // Spelt with ${SRC} so that this file itself passes the check below.
    const SRC = 'src';
    const source = [
      `import { Net } from '../../packages/nn/${SRC}/net.js';`,
      `import type { Report } from '../../packages/experiment/${SRC}/report/index.js';`,
      `const cli = await import('../../packages/experiment/${SRC}/cli.js');`,
      `vi.mock('@cnn/tensor/${SRC}/pool/pool.js');`,
      "import { Tensor } from '@cnn/tensor';",
      "import { startLabelling } from '@cnn/experiment/label';",
      "import { fixture } from '../helpers/shared.js';",
      "import { bundleWeb } from '../../packages/experiment/web/build.mjs';",
    ].join('\n');
    expect(sourcePathImports(REPO_ROOT, file, source)).toEqual([
      '../../packages/nn/src/net.js',
      '../../packages/experiment/src/report/index.js',
      '../../packages/experiment/src/cli.js',
      '@cnn/tensor/src/pool/pool.js',
    ]);
  });

  it('no file under test/ reaches into a package src/ by path', () => {
    const offenders = scriptFiles(path.join(REPO_ROOT, 'test')).flatMap((file) =>
      sourcePathImports(REPO_ROOT, file, readFileSync(file, 'utf8')).map((specifier) => `${path.relative(REPO_ROOT, file)}: ${specifier}`),
    );
    expect(scriptFiles(path.join(REPO_ROOT, 'test')).length).toBeGreaterThan(30);
    expect(offenders).toEqual([]);
  });
});
