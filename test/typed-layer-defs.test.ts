import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/shared.js';

/*
 * LayerDef is a union keyed on `type`, each member carrying its layer's parameter type: a net
 * definition written in TypeScript with a misspelt type, parameter key or parameter does not
 * compile. Checked here by compiling a small definition against the package's sources.
 */

/** The compiler's messages for `source`, as if it were a file in test/, by line (1-based). */
function compile(source: string): { line: number; message: string }[] {
  const file = path.join(REPO_ROOT, 'test', 'typed-layer-defs.example.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['source'],
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language) : getSourceFile.call(host, name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  const sourceFile = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, sourceFile).map((d) => ({
    line: sourceFile.getLineAndCharacterOfPosition(d.start ?? 0).line + 1,
    message: ts.flattenDiagnosticMessageText(d.messageText, ' '),
  }));
}

describe('typed layer definitions', () => {
  it('compile when right, and a misspelt type, parameter key or parameter is a compile error on its line', () => {
    const errors = compile(
      [
        "import type { LayerDef } from '@cnn/nn';",
        "export const right: LayerDef[] = [{ name: 'conv', type: 'Convolution', convolution: { numOutput: 4, kernelSize: 3, weightFiller: { type: 'xavier' } } }];",
        "export const type: LayerDef = { name: 'conv', type: 'Convolutoin', convolution: { numOutput: 4 } };",
        "export const key: LayerDef = { name: 'conv', type: 'Convolution', convolutoin: { numOutput: 4 } };",
        "export const parameter: LayerDef = { name: 'conv', type: 'Convolution', convolution: { numOuptut: 4 } };",
        "export const wrongLayer: LayerDef = { name: 'pool', type: 'Pooling', pooling: { pool: 'MAXIMUM', kernelSize: 2 } };",
      ].join('\n'),
    );
    expect(errors.map((e) => e.line)).toEqual([3, 4, 5, 6]);
    expect(errors[0]!.message).toMatch(/'"Convolutoin"' is not assignable/);
    expect(errors[1]!.message).toMatch(/'convolutoin' does not exist/);
    expect(errors[2]!.message).toMatch(/'numOuptut' does not exist/);
    expect(errors[3]!.message).toMatch(/'"MAXIMUM"' is not assignable/);
  });
});
