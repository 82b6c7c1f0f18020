import { describe, expect, it } from 'vitest';
import { encodeModule, moduleText } from './encoder.js';
import { rawExports, rawFunction } from './raw.js';

const ADD_PARAMS = [['a', 'i32'], ['b', 'f32']] as const;

describe('raw wasm functions declared by their parameters', () => {
  it('give the emitter each parameter by name, in the declared order and types, named in the text dump', () => {
    const { f, p } = rawFunction('test module', 'add', ADD_PARAMS);
    expect(p).toEqual({ a: 0, b: 1 });
    f.localGet(p.a).localGet(p.a).i32Add().localSet(p.a);
    const spec = { functions: [{ name: 'add', body: f }] };
    expect(moduleText(spec)).toContain('(func $add (export "add") (param $a i32) (param $b f32)');
    const { add } = rawExports(new WebAssembly.Instance(new WebAssembly.Module(encodeModule(spec))).exports, { add: ADD_PARAMS });
    expect(add(1, 2)).toBeUndefined();
  });

  it('refuse a module that lacks a declared function or takes another number of arguments', () => {
    expect(() => rawExports({}, { add: ADD_PARAMS })).toThrow('wasm module: no function add taking 2 arguments');
    expect(() => rawExports({ add: (a: number) => a }, { add: ADD_PARAMS })).toThrow('wasm module: no function add taking 2 arguments');
  });
});
