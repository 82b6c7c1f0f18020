import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/*
 * The import graph of the workspace's source files (tests, declarations and test fixtures left
 * out), and its cycles. A cycle between ES modules means one of them runs before the other has
 * initialised its exports: it works or fails depending on which file is imported first, so an
 * import sorter or a new entry point can break the package at load time.
 */

/** Directories never walked: installed and built files, and the pool's test kernels. */
const SKIPPED = new Set(['node_modules', 'dist', 'test-fixtures']);

/**
 * An import or re-export that loads the module at run time: `import type` and `export type`
 * are erased by TypeScript and create no edge.
 */
const RUNTIME_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

/** Each source file (absolute path) with the source files it imports at run time. */
export type ImportGraph = Map<string, Set<string>>;

/** The graph of every `.ts` source file under `packages/` and `bench/` of `root`. */
export function workspaceImportGraph(root: string): ImportGraph {
  const entries = packageEntries(root);
  const files = ['packages', 'bench'].flatMap((base) => sourceFiles(path.join(root, base)));
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const targets = new Set<string>();
    for (const match of readFileSync(file, 'utf8').matchAll(RUNTIME_IMPORT)) {
      const target = resolveImport(file, match[1]!, entries);
      if (target && target !== file) targets.add(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/**
 * The workspace's own packages' entry points by the specifier that imports them (`@cnn/nn`,
 * `@cnn/experiment/label`, ...), each resolved to the TypeScript source its `source` export
 * condition names.
 */
function packageEntries(root: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const dir of readdirSync(path.join(root, 'packages'))) {
    const manifest = path.join(root, 'packages', dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const { name, exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; exports: Record<string, { source: string }> };
    for (const [subpath, conditions] of Object.entries(exports)) {
      entries.set(path.posix.join(name, subpath), path.join(root, 'packages', dir, conditions.source));
    }
  }
  return entries;
}

/** Every place a module is named: import and export `from`, `import()`, a bare `import '...'`, `vi.mock()` and its kin. */
const ANY_IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\bvi\.(?:mock|doMock|unmock|importActual|importMock)\s*\(\s*)['"]([^'"]+)['"]/g;

/**
 * The specifiers in `source` (a file at `file`) that reach into a workspace package's `src/`
 * folder by path (`../packages/nn/src/net.js`, `@cnn/nn/src/net.js`) instead of through the
 * package's name and exports.
 */
export function sourcePathImports(root: string, file: string, source: string): string[] {
  const packages = path.join(root, 'packages');
  return [...source.matchAll(ANY_IMPORT)]
    .map((match) => match[1]!)
    .filter((specifier) => {
      if (/^@cnn\/[^/]+\/src(\/|$)/.test(specifier)) return true;
      if (!specifier.startsWith('.')) return false;
      const relative = path.relative(packages, path.resolve(path.dirname(file), specifier)).split(path.sep);
      return relative.length >= 2 && !relative[0]!.startsWith('..') && relative[1] === 'src';
    });
}

/** The script files under `dir` (.ts, .mts, .js, .mjs), built and installed files left out. */
export function scriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED.has(entry.name) ? [] : scriptFiles(full);
    return /\.(?:m?ts|m?js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED.has(entry.name) ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The file an import specifier names: a workspace package's entry, or a relative `.js`/`.ts` path; else undefined. */
function resolveImport(from: string, specifier: string, entries: Map<string, string>): string | undefined {
  const entry = entries.get(specifier);
  if (entry) return entry;
  if (!specifier.startsWith('.')) return undefined;
  const target = path.resolve(path.dirname(from), specifier);
  return [target.replace(/\.js$/, '.ts'), `${target}.ts`, path.join(target, 'index.ts')].find((candidate) => existsSync(candidate));
}

/**
 * The cycles of a graph: its strongly connected components of more than one file (Tarjan's
 * algorithm, iterative so a long chain of imports cannot overflow the stack), each sorted.
 */
export function importCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    // Each frame: a file and the iterator over the files it imports that is still being walked.
    const frames: { file: string; targets: Iterator<string> }[] = [];
    const enter = (file: string): void => {
      index.set(file, next);
      low.set(file, next++);
      stack.push(file);
      onStack.add(file);
      frames.push({ file, targets: (graph.get(file) ?? new Set<string>()).values() });
    };
    enter(start);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const step = frame.targets.next();
      if (!step.done) {
        const target = step.value;
        if (!index.has(target)) enter(target);
        else if (onStack.has(target)) low.set(frame.file, Math.min(low.get(frame.file)!, index.get(target)!));
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent.file, Math.min(low.get(parent.file)!, low.get(frame.file)!));
      if (low.get(frame.file) !== index.get(frame.file)) continue;
      const component: string[] = [];
      let file: string;
      do {
        file = stack.pop()!;
        onStack.delete(file);
        component.push(file);
      } while (file !== frame.file);
      if (component.length > 1) cycles.push(component.sort());
    }
  }
  return cycles;
}
