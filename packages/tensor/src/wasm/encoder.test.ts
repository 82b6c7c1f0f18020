import { afterEach, describe, expect, it, vi } from 'vitest';
import { FunctionBuilder, ValType, WasmBuildError, encodeModule, moduleText } from './encoder.js';
import { gemmKernelModule, simdProbeModule } from './kernel-module.js';
import { relaxedSimdSupported } from '../backend-name.js';
import { im2colModule } from '../im2col/wasm.js';

const { i32, f32, v128 } = ValType;

describe('the function builder checks the operand stack at each call', () => {
  it('names the function and the instruction whose operands have the wrong types', () => {
    const f = new FunctionBuilder([i32, f32], [], 'wasm test.mixed');
    f.localGet(0).localGet(1);
    expect(() => f.i32Add()).toThrow(new WasmBuildError('wasm test.mixed: i32.add needs [i32 i32] on the stack, and it has [i32 f32]'));
  });

  it('refuses an operand that is missing, a store with its operands swapped, and an undeclared local', () => {
    const f = new FunctionBuilder([i32], [], 'wasm test.short');
    expect(() => f.localGet(0).f32x4Mul()).toThrow('wasm test.short: f32x4.mul needs [v128 v128] on the stack, and it has [i32]');
    const g = new FunctionBuilder([i32], [], 'wasm test.store');
    g.f32Const(1).localGet(0);
    expect(() => g.f32Store()).toThrow('wasm test.store: f32.store align=4 needs [i32 f32] on the stack, and it has [f32 i32]');
    expect(() => new FunctionBuilder([i32], [], 'wasm test.local').localGet(3)).toThrow('wasm test.local: local 3 is not declared (1 params, 0 locals)');
  });

  it('refuses a block that leaves a value, a branch with a value on the stack, and a function without its result', () => {
    const f = new FunctionBuilder([], [], 'wasm test.block');
    expect(() => f.block(() => f.i32Const(1))).toThrow('wasm test.block: the end of a block needs nothing on the stack, and it has [i32]');
    const g = new FunctionBuilder([], [], 'wasm test.branch');
    expect(() => g.loop((again) => g.f32Const(0).br(again))).toThrow('wasm test.branch: br leaves [f32] on the stack of its block');
    const h = new FunctionBuilder([], [v128], 'wasm test.result');
    h.i32Const(0);
    expect(() => h.encode()).toThrow('wasm test.result: the end of the function needs [v128] on the stack, and it has [i32]');
  });

  it('accepts what WebAssembly accepts: conditions, select, an if with else, code after a branch', () => {
    const f = new FunctionBuilder([i32, f32], [f32], 'wasm test.valid');
    const x = f.local(f32);
    f.localGet(1).localSet(x);
    f.block((done) => {
      f.localGet(0).i32Eqz().brIf(done);
      f.localGet(0).i32Const(1).i32GtS();
      f.if(
        () => f.localGet(x).f32Const(2).f32Mul().localSet(x),
        () => f.localGet(x).f32Const(0).localGet(0).select().localSet(x),
      );
      f.br(done);
    });
    f.localGet(x);
    const bytes = encodeModule({ functions: [{ name: 'valid', body: f }] });
    expect(WebAssembly.validate(bytes)).toBe(true);
    const run = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.valid as (n: number, x: number) => number;
    expect(run(2, 1.5)).toBe(3);
    expect(run(1, 1.5)).toBe(1.5);
    expect(run(0, 1.5)).toBe(1.5);
  });
});

describe('the text of a kernel (WAT)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('writes each function with its named parameters, locals and nested instructions', () => {
    const f = new FunctionBuilder([i32, f32], [], 'wasm test.scale', ['at', 'factor']);
    const counter = f.local(i32);
    f.i32Const(4).localSet(counter);
    f.loop((again) => {
      f.localGet(0).localGet(0).f32Load().localGet(1).f32Mul().f32Store();
      f.localGet(counter).i32Const(1).i32Sub().localTee(counter).brIf(again);
    });
    const text = moduleText({ functions: [{ name: 'scale', body: f }], importedMemory: { module: 'env', name: 'memory', minPages: 1, maxPages: 2 } });
    expect(text).toBe(
      [
        '(module',
        '  (import "env" "memory" (memory 1 2 shared))',
        '  (func $scale (export "scale") (param $at i32) (param $factor f32)',
        '    (local (; 2 ;) i32)',
        '    i32.const 4',
        '    local.set 2',
        '    loop',
        '      local.get $at',
        '      local.get $at',
        '      f32.load align=4',
        '      local.get $factor',
        '      f32.mul',
        '      f32.store align=4',
        '      local.get 2',
        '      i32.const 1',
        '      i32.sub',
        '      local.tee 2',
        '      br_if 0',
        '    end',
        '  )',
        ')',
      ].join('\n'),
    );
  });

  it('CNN_WASM_DUMP=<function> prints the module that has it, and only that one', () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    vi.stubEnv('CNN_WASM_DUMP', 'col2imRows');
    im2colModule();
    gemmKernelModule();
    expect(printed).toHaveBeenCalledTimes(1);
    const text = printed.mock.calls[0]![0] as string;
    expect(text).toContain('(func $col2imRows (export "col2imRows") (param $col i32) (param $dst i32)');
    expect(text).toContain('call $col2imRows');
    expect(text).not.toContain('gemmBlock');
  });

  it('CNN_WASM_DUMP=all prints every module as it is built; unset, nothing', () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    simdProbeModule();
    expect(printed).not.toHaveBeenCalled();
    vi.stubEnv('CNN_WASM_DUMP', 'all');
    simdProbeModule();
    expect(printed).toHaveBeenCalledWith(expect.stringContaining('(func $probe (export "probe") (result v128)\n    v128.const i32x4 0 0 0 0\n  )'));
  });
});

describe("the GEMM's module", () => {
  it('builds type-checked and validates, with plain SIMD and with relaxed SIMD where the engine has it', () => {
    // Probed first: the probe is what switches relaxed SIMD on in Node 20 (a V8 flag).
    const relaxed = relaxedSimdSupported();
    expect(WebAssembly.validate(gemmKernelModule(undefined, false))).toBe(true);
    expect(WebAssembly.validate(gemmKernelModule(undefined, true))).toBe(relaxed);
  });
});
