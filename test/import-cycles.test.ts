import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/shared.js';
import { importCycles, workspaceImportGraph, type ImportGraph } from './helpers/import-graph.js';

function graphOf(edges: Record<string, string[]>): ImportGraph {
  return new Map(Object.entries(edges).map(([file, targets]) => [file, new Set(targets)]));
}

describe('import cycles', () => {
  it('finds a cycle through three files, and leaves the files outside it out', () => {
    const graph = graphOf({ backend: ['parallel', 'errors'], parallel: ['pool'], pool: ['backend', 'errors'], errors: [], index: ['backend'] });
    expect(importCycles(graph)).toEqual([['backend', 'parallel', 'pool']]);
  });

  it('finds none in a graph without one, however the files are shared', () => {
    const graph = graphOf({ a: ['b', 'c'], b: ['d'], c: ['d'], d: [] });
    expect(importCycles(graph)).toEqual([]);
  });

  it('sees the imports of the workspace, by relative path and by package name', () => {
    const graph = workspaceImportGraph(REPO_ROOT);
    const file = (relative: string) => path.join(REPO_ROOT, relative);
    expect(graph.get(file('packages/nn/src/layers/convolution.ts'))).toContain(file('packages/nn/src/layer.ts'));
    expect(graph.get(file('packages/nn/src/layers/convolution.ts'))).toContain(file('packages/tensor/src/index.ts'));
    expect(graph.size).toBeGreaterThan(100);
  });

  it('the packages and the benchmarks have none', () => {
    const cycles = importCycles(workspaceImportGraph(REPO_ROOT)).map((cycle) => cycle.map((file) => path.relative(REPO_ROOT, file)));
    expect(cycles).toEqual([]);
  });
});
