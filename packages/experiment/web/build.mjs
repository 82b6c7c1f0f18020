/*
 * Bundles the pages of `cnn serve` for the browser (run by the root package's `build` and
 * `prepare` scripts, so `npm ci` leaves them in packages/experiment/dist/web). esbuild reads
 * the TypeScript sources through the packages' `source` export condition and, for the browser,
 * picks @cnn/tensor's Web Worker host (the `browser` condition of its `#platform` import).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const DEFAULT_OUT = path.resolve(here, '../dist/web');

/**
 * Node's built-in modules, for the few file-reading functions the bundled packages also
 * export (readCaffemodelFile, ...): the pages never call them, and a call would throw naming
 * the function, instead of the whole bundle failing to load on an import the browser lacks.
 */
const nodeBuiltinsUnavailable = {
  name: 'node-builtins-unavailable',
  setup(build) {
    const builtin = new RegExp(`^(node:)?(${builtinModules.map((name) => name.replace(/[/]/g, '\\/')).join('|')})$`);
    build.onResolve({ filter: builtin }, (args) => ({ path: args.path.replace(/^node:/, ''), namespace: 'node-builtin' }));
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => {
      const names = Object.keys(require(`node:${args.path}`)).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default');
      const stub = (name) => `export const ${name} = () => { throw new Error('node:${args.path} ${name} is not available in the browser'); };`;
      return { contents: [...names.map(stub), 'export default {};'].join('\n'), loader: 'js' };
    });
  },
};

/**
 * Bundles `entryPoints` (name -> TypeScript file) for the browser into `outdir`, one ES module
 * each, from the packages' sources. The in-page bench (bench/src/suites/browser.ts) uses it too.
 */
export async function bundleForBrowser(entryPoints, outdir) {
  await mkdir(outdir, { recursive: true });
  await esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome110',
    conditions: ['source'],
    sourcemap: 'inline',
    logLevel: 'warning',
    plugins: [nodeBuiltinsUnavailable],
  });
}

/** Writes the pages of cnn serve (engine.js, learn.js, classify.js, style.css) into `out`. */
export async function bundleWeb(out = DEFAULT_OUT) {
  const entry = (file) => path.join(here, file);
  await bundleForBrowser({ engine: entry('engine.ts'), learn: entry('learn-page.ts'), classify: entry('classify-page.ts') }, out);
  await copyFile(entry('style.css'), path.join(out, 'style.css'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await bundleWeb(process.argv[2]);
