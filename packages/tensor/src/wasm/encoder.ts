import { environmentVariable } from '#platform';

/*
 * A small WebAssembly binary encoder: just enough of the format to write the project's
 * own kernels from TypeScript, so that the bytes exist synchronously at run time with no
 * build step and no third-party assembler.
 *
 * A module is the magic number and version followed by sections, each a one-byte id and
 * its byte length. Integers are LEB128: seven bits a byte, low bits first, the high bit
 * of each byte saying "more follows". A function body is its local declarations followed
 * by the instruction bytes and `end` (0x0b). Structured control flow (`block`, `loop`,
 * `if`) is nested, and a branch names its target by how many levels out it is; the
 * `FunctionBuilder` below tracks that depth so kernels can branch to labels by name.
 *
 * Opcodes are those of the WebAssembly core specification (binary format, chapter 5)
 * and of the fixed-width SIMD proposal merged into it (prefix 0xfd).
 */

/** Value types and their encodings. */
export const ValType = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValType = (typeof ValType)[keyof typeof ValType];

const SectionId = { type: 1, import: 2, function: 3, export: 7, code: 10 } as const;
/** Kinds of an import or export. */
const ExternalKind = { function: 0x00, memory: 0x02 } as const;
/** Memory limits flag: a minimum and a maximum, shared between threads. */
const SHARED_LIMITS = 0x03;
/** The block type of a block that takes and leaves nothing on the stack. */
const EMPTY_BLOCK = 0x40;
const SIMD_PREFIX = 0xfd;

/** Unsigned LEB128. */
export function unsignedLeb(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`unsignedLeb: ${value} is not a u32`);
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** Signed LEB128 (for `i32.const`): stops once the remaining bits are all copies of the sign bit. */
export function signedLeb(value: number): number[] {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new RangeError(`signedLeb: ${value} is not an i32`);
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

/** A vector: its length, then its items. */
function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

/** A name: its UTF-8 bytes as a vector. */
function name(text: string): number[] {
  const utf8 = [...new TextEncoder().encode(text)];
  return [...unsignedLeb(utf8.length), ...utf8];
}

function section(id: number, contents: number[]): number[] {
  return [id, ...unsignedLeb(contents.length), ...contents];
}

/** A branch target, handed to the body of `block`/`loop`/`if` so branches can name it. */
export interface Label {
  readonly depth: number;
}

/** Another function of the module, as `call` needs it: its place in the module and its signature. */
export interface CalleeSignature {
  readonly index: number;
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

/**
 * A builder call that would make invalid code: an instruction whose operands are not on the
 * stack with their types, a block left with values on the stack, a function that does not end
 * with its results. Thrown at the call itself, so the stack trace points at the kernel's line,
 * and the message names the function.
 */
export class WasmBuildError extends Error {
  override readonly name = 'WasmBuildError';
}

const typeName: Record<ValType, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128' };

/** A block, loop or if being built: where the stack stood at its start, and whether code after a branch is unreachable. */
interface Frame {
  kind: 'block' | 'loop' | 'if' | 'function';
  height: number;
  unreachable: boolean;
}

/**
 * Builds one function: declare locals, then append instructions. Every method emits
 * exactly the instruction it is named after (`f32x4Mul` is `f32x4.mul`), so a kernel
 * reads like the text format.
 *
 * The builder follows the operand stack's types as WebAssembly's validator does, and throws a
 * `WasmBuildError` naming the function at the first call that breaks them (an f32 where an
 * i32 is needed, a value left in a block), instead of the engine's `CompileError` at a byte
 * offset. `text()` gives the function in the WebAssembly text format (WAT).
 */
export class FunctionBuilder {
  private readonly code: number[] = [];
  private readonly locals: ValType[] = [];
  /** The instructions as text, with their nesting depth, for `text()`. */
  private readonly lines: { depth: number; text: string }[] = [];
  private readonly stack: ValType[] = [];
  private readonly frames: Frame[] = [{ kind: 'function', height: 0, unreachable: false }];

  /**
   * `name` names the function in errors and in its text (the kernel, as `module.function`);
   * `paramNames`, if given, name its parameters in the text.
   */
  constructor(
    readonly params: readonly ValType[],
    readonly results: readonly ValType[] = [],
    readonly name = 'function',
    readonly paramNames: readonly string[] = [],
  ) {}

  /** Declares a local of `type` and returns its index (parameters come first). */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  // Control flow. The body runs with the new label; `br`/`brIf` to it leave a block
  // (jump past its end) or restart a loop (jump to its top).
  block(body: (label: Label) => void): this {
    return this.structured('block', 0x02, body);
  }

  loop(body: (label: Label) => void): this {
    return this.structured('loop', 0x03, body);
  }

  /** `if` with an optional `else`, consuming an i32 condition. */
  if(then: (label: Label) => void, otherwise?: (label: Label) => void): this {
    this.operands('if', [ValType.i32], []);
    this.code.push(0x04, EMPTY_BLOCK);
    this.line('if');
    const label = this.open('if');
    then(label);
    if (otherwise) {
      this.close('else');
      this.code.push(0x05);
      this.line('else');
      this.frames.push({ kind: 'if', height: this.stack.length, unreachable: false });
      otherwise(label);
    }
    this.close('end');
    this.code.push(0x0b);
    this.line('end');
    return this;
  }

  /** `call` of another function of the module (see `CalleeSignature`). */
  call(callee: CalleeSignature): this {
    return this.emit(`call $${callee.name}`, callee.params, callee.results, 0x10, ...unsignedLeb(callee.index));
  }

  br(label: Label): this {
    const depth = this.relativeDepth(label);
    this.emit(`br ${depth}`, [], [], 0x0c, ...unsignedLeb(depth));
    return this.unreachable('br');
  }

  brIf(label: Label): this {
    const depth = this.relativeDepth(label);
    return this.emit(`br_if ${depth}`, [ValType.i32], [], 0x0d, ...unsignedLeb(depth));
  }

  // Variables.
  localGet(index: number): this {
    return this.emit(`local.get ${this.localName(index)}`, [], [this.localType(index)], 0x20, ...unsignedLeb(index));
  }

  localSet(index: number): this {
    return this.emit(`local.set ${this.localName(index)}`, [this.localType(index)], [], 0x21, ...unsignedLeb(index));
  }

  localTee(index: number): this {
    const type = this.localType(index);
    return this.emit(`local.tee ${this.localName(index)}`, [type], [type], 0x22, ...unsignedLeb(index));
  }

  // Integer arithmetic (i32).
  i32Const(value: number): this {
    return this.emit(`i32.const ${value}`, [], [ValType.i32], 0x41, ...signedLeb(value));
  }

  i32Eqz(): this {
    return this.emit('i32.eqz', [ValType.i32], [ValType.i32], 0x45);
  }

  i32Add(): this {
    return this.binary('i32.add', ValType.i32, 0x6a);
  }

  i32Sub(): this {
    return this.binary('i32.sub', ValType.i32, 0x6b);
  }

  i32Mul(): this {
    return this.binary('i32.mul', ValType.i32, 0x6c);
  }

  i32DivU(): this {
    return this.binary('i32.div_u', ValType.i32, 0x6e);
  }

  i32RemU(): this {
    return this.binary('i32.rem_u', ValType.i32, 0x70);
  }

  i32Shl(): this {
    return this.binary('i32.shl', ValType.i32, 0x74);
  }

  i32And(): this {
    return this.binary('i32.and', ValType.i32, 0x71);
  }

  i32Eq(): this {
    return this.binary('i32.eq', ValType.i32, 0x46);
  }

  // i32 comparisons (signed), each leaving 1 or 0.
  i32LtS(): this {
    return this.binary('i32.lt_s', ValType.i32, 0x48);
  }

  i32GeS(): this {
    return this.binary('i32.ge_s', ValType.i32, 0x4e);
  }

  i32GtS(): this {
    return this.binary('i32.gt_s', ValType.i32, 0x4a);
  }

  i32Store(offset = 0): this {
    return this.emit(`i32.store${memargText(2, offset)}`, [ValType.i32, ValType.i32], [], 0x36, ...memarg(2, offset));
  }

  /** `select`: of the two values under the condition on top of the stack, the first if it is non-zero. */
  select(): this {
    // The two values may be of any one number type: look at the first before checking.
    const type = this.stack.length >= 3 ? this.stack[this.stack.length - 3]! : ValType.i32;
    return this.emit('select', [type, type, ValType.i32], [type], 0x1b);
  }

  /** `memory.fill` (bulk memory): [address, byte value, length] -> fills length bytes. */
  memoryFill(): this {
    return this.emit('memory.fill', [ValType.i32, ValType.i32, ValType.i32], [], 0xfc, ...unsignedLeb(11), 0x00);
  }

  // Scalar float32, for the edges the vector loops leave.
  f32Load(offset = 0): this {
    return this.emit(`f32.load${memargText(2, offset)}`, [ValType.i32], [ValType.f32], 0x2a, ...memarg(2, offset));
  }

  f32Store(offset = 0): this {
    return this.emit(`f32.store${memargText(2, offset)}`, [ValType.i32, ValType.f32], [], 0x38, ...memarg(2, offset));
  }

  f32Add(): this {
    return this.binary('f32.add', ValType.f32, 0x92);
  }

  f32Mul(): this {
    return this.binary('f32.mul', ValType.f32, 0x94);
  }

  f32Sub(): this {
    return this.binary('f32.sub', ValType.f32, 0x93);
  }

  f32Const(value: number): this {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return this.emit(`f32.const ${Math.fround(value)}`, [], [ValType.f32], 0x43, ...bytes);
  }

  f32Gt(): this {
    return this.emit('f32.gt', [ValType.f32, ValType.f32], [ValType.i32], 0x5e);
  }

  f32Max(): this {
    return this.binary('f32.max', ValType.f32, 0x97);
  }

  f32Min(): this {
    return this.binary('f32.min', ValType.f32, 0x96);
  }

  // 128-bit SIMD. `offset` is a constant byte offset added to the address on the stack;
  // `alignLog2` is only a hint (the access is correct at any alignment).
  v128Load(offset = 0, alignLog2 = 4): this {
    return this.simd(`v128.load${memargText(alignLog2, offset)}`, [ValType.i32], [ValType.v128], 0x00, ...memarg(alignLog2, offset));
  }

  /** Loads one 32-bit value and copies it into all four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.simd(`v128.load32_splat${memargText(2, offset)}`, [ValType.i32], [ValType.v128], 0x09, ...memarg(2, offset));
  }

  v128Store(offset = 0, alignLog2 = 4): this {
    return this.simd(`v128.store${memargText(alignLog2, offset)}`, [ValType.i32, ValType.v128], [], 0x0b, ...memarg(alignLog2, offset));
  }

  /** `v128.const` of sixteen zero bytes. */
  v128Zero(): this {
    return this.simd('v128.const i32x4 0 0 0 0', [], [ValType.v128], 0x0c, ...new Array<number>(16).fill(0));
  }

  /** `v128.const` of four i32 lanes. */
  i32x4Const(lanes: [number, number, number, number]): this {
    return this.simd(`v128.const i32x4 ${lanes.join(' ')}`, [], [ValType.v128], 0x0c, ...new Uint8Array(new Int32Array(lanes).buffer));
  }

  i32x4Splat(): this {
    return this.simd('i32x4.splat', [ValType.i32], [ValType.v128], 0x11);
  }

  i32x4Add(): this {
    return this.simd('i32x4.add', [ValType.v128, ValType.v128], [ValType.v128], 0xae);
  }

  /** `f32x4.extract_lane`: lane `lane` (0-3) of the vector on the stack, as an f32. */
  f32x4ExtractLane(lane: number): this {
    return this.simd(`f32x4.extract_lane ${lane}`, [ValType.v128], [ValType.f32], 0x1f, lane);
  }

  f32x4Splat(): this {
    return this.simd('f32x4.splat', [ValType.f32], [ValType.v128], 0x13);
  }

  f32x4Add(): this {
    return this.vector('f32x4.add', 0xe4);
  }

  f32x4Mul(): this {
    return this.vector('f32x4.mul', 0xe6);
  }

  f32x4Sub(): this {
    return this.vector('f32x4.sub', 0xe5);
  }

  f32x4Div(): this {
    return this.vector('f32x4.div', 0xe7);
  }

  f32x4Sqrt(): this {
    return this.simd('f32x4.sqrt', [ValType.v128], [ValType.v128], 0xe3);
  }

  f32x4Min(): this {
    return this.vector('f32x4.min', 0xe8);
  }

  f32x4Max(): this {
    return this.vector('f32x4.max', 0xe9);
  }

  /** Lane-wise a > b: all ones where true, zeros where false. */
  f32x4Gt(): this {
    return this.vector('f32x4.gt', 0x44);
  }

  /**
   * `i8x16.shuffle` by 32-bit lanes: lane i of the result is lane `lanes[i]` of a (0-3) or
   * of b (4-7), for the two vectors [a, b] on the stack.
   */
  shuffle32(lanes: [number, number, number, number]): this {
    const bytes = lanes.flatMap((lane) => [0, 1, 2, 3].map((byte) => lane * 4 + byte));
    return this.simd(`i8x16.shuffle ${bytes.join(' ')}`, [ValType.v128, ValType.v128], [ValType.v128], 0x0d, ...bytes);
  }

  /**
   * `f32x4.relaxed_madd` (relaxed SIMD): [a, b, c] -> a * b + c, with one rounding (a fused
   * multiply-add) or two, as the hardware does it. Only valid where the engine has relaxed SIMD
   * (see `relaxedSimdSupported`).
   */
  f32x4RelaxedMadd(): this {
    return this.simd('f32x4.relaxed_madd', [ValType.v128, ValType.v128, ValType.v128], [ValType.v128], 0x105);
  }

  /** `v128.bitselect`: [a, b, mask] -> the bits of a where mask is 1, of b where it is 0. */
  v128Bitselect(): this {
    return this.simd('v128.bitselect', [ValType.v128, ValType.v128, ValType.v128], [ValType.v128], 0x52);
  }

  /** The function's code entry: size, local declarations (runs of one type), instructions, `end`. */
  encode(): number[] {
    if (this.frames.length !== 1) throw this.error('encode: a block is still open');
    this.expectStack(this.results, 'the end of the function');
    const runs: number[][] = [];
    for (let start = 0; start < this.locals.length; ) {
      let end = start;
      while (end < this.locals.length && this.locals[end] === this.locals[start]) end++;
      runs.push([...unsignedLeb(end - start), this.locals[start]!]);
      start = end;
    }
    const body = [...vector(runs), ...this.code, 0x0b];
    return [...unsignedLeb(body.length), ...body];
  }

  /** The function in the WebAssembly text format, exported as `exportName`. */
  text(exportName = this.name): string {
    const params = this.params.map((type, i) => `(param ${this.paramNames[i] ? `$${this.paramNames[i]} ` : ''}${typeName[type]})`);
    const results = this.results.map((type) => `(result ${typeName[type]})`);
    const locals = this.locals.map((type, i) => `(local (; ${this.params.length + i} ;) ${typeName[type]})`);
    const head = [`(func $${exportName.replace(/[^\w.]/g, '_')} (export "${exportName}")`, ...params, ...results].join(' ');
    const body = [...locals.map((local) => `  ${local}`), ...this.lines.map(({ depth, text }) => `${'  '.repeat(depth + 1)}${text}`)];
    return [head, ...body, ')'].join('\n');
  }

  private structured(kind: 'block' | 'loop', opcode: number, body: (label: Label) => void): this {
    this.code.push(opcode, EMPTY_BLOCK);
    this.line(kind);
    body(this.open(kind));
    this.close('end');
    this.code.push(0x0b);
    this.line('end');
    return this;
  }

  private open(kind: 'block' | 'loop' | 'if'): Label {
    this.frames.push({ kind, height: this.stack.length, unreachable: false });
    return { depth: this.frames.length - 1 };
  }

  /** Ends the innermost block (at its `else` or `end`): its body must leave the stack as it found it. */
  private close(at: string): void {
    const frame = this.frames[this.frames.length - 1]!;
    if (!frame.unreachable) this.expectStack([], `the ${at} of a ${frame.kind}`);
    this.stack.length = frame.height;
    this.frames.pop();
  }

  private relativeDepth(label: Label): number {
    const open = this.frames.length - 1;
    if (label.depth > open) throw this.error('branch to a label whose block is closed');
    return open - label.depth;
  }

  /** After an unconditional branch: the rest of the block is never run, and its stack is whatever the block needs. */
  private unreachable(at: string): this {
    const frame = this.frames[this.frames.length - 1]!;
    if (!frame.unreachable && this.stack.length !== frame.height) {
      throw this.error(`${at} leaves ${this.describe(this.stack.slice(frame.height))} on the stack of its block`);
    }
    frame.unreachable = true;
    this.stack.length = frame.height;
    return this;
  }

  private localType(index: number): ValType {
    const type = index < this.params.length ? this.params[index] : this.locals[index - this.params.length];
    if (type === undefined) throw this.error(`local ${index} is not declared (${this.params.length} params, ${this.locals.length} locals)`);
    return type;
  }

  private localName(index: number): string {
    const name = this.paramNames[index];
    return name !== undefined && index < this.params.length ? `$${name}` : `${index}`;
  }

  /** Two operands of `type`, one result of `type` (for i32 comparisons too: their result is an i32). */
  private binary(text: string, type: ValType, opcode: number): this {
    return this.emit(text, [type, type], [type], opcode);
  }

  private vector(text: string, opcode: number): this {
    return this.simd(text, [ValType.v128, ValType.v128], [ValType.v128], opcode);
  }

  private simd(text: string, pops: readonly ValType[], pushes: readonly ValType[], opcode: number, ...immediates: number[]): this {
    return this.emit(text, pops, pushes, SIMD_PREFIX, ...unsignedLeb(opcode), ...immediates);
  }

  /** Appends one instruction that pops `pops` (the last on top) and pushes `pushes`, checking the stack first. */
  private emit(text: string, pops: readonly ValType[], pushes: readonly ValType[], ...bytes: number[]): this {
    this.operands(text, pops, pushes);
    for (const byte of bytes) this.code.push(byte);
    this.line(text);
    return this;
  }

  private operands(text: string, pops: readonly ValType[], pushes: readonly ValType[]): void {
    const frame = this.frames[this.frames.length - 1]!;
    const before = this.stack.slice(frame.height);
    for (let k = pops.length - 1; k >= 0; k--) {
      // After a branch the stack is polymorphic: operands the block does not have are of any type.
      if (this.stack.length === frame.height && frame.unreachable) continue;
      if (this.stack.length === frame.height || this.stack[this.stack.length - 1] !== pops[k]) {
        throw this.error(`${text} needs ${this.describe(pops)} on the stack, and it has ${this.describe(before)}`);
      }
      this.stack.pop();
    }
    this.stack.push(...pushes);
  }

  /** The stack of the innermost block must be exactly `types`. */
  private expectStack(types: readonly ValType[], where: string): void {
    const frame = this.frames[this.frames.length - 1]!;
    const have = this.stack.slice(frame.height);
    if (frame.unreachable) return;
    if (have.length !== types.length || have.some((type, i) => type !== types[i])) {
      throw this.error(`${where} needs ${this.describe(types)} on the stack, and it has ${this.describe(have)}`);
    }
  }

  private line(text: string): void {
    this.lines.push({ depth: this.frames.length - 1, text });
  }

  private describe(types: readonly ValType[]): string {
    return types.length === 0 ? 'nothing' : `[${types.map((type) => typeName[type]).join(' ')}]`;
  }

  private error(message: string): WasmBuildError {
    return new WasmBuildError(`${this.name}: ${message}`);
  }
}

/** ` offset=N align=M` as the text format writes a memory access's immediates (defaults left out). */
function memargText(alignLog2: number, offset: number): string {
  return `${offset ? ` offset=${offset}` : ''} align=${1 << alignLog2}`;
}

function memarg(alignLog2: number, offset: number): number[] {
  return [...unsignedLeb(alignLog2), ...unsignedLeb(offset)];
}

/** What a module holds: exported functions and, optionally, a shared memory imported from the host. */
export interface ModuleSpec {
  functions: { name: string; body: FunctionBuilder }[];
  /** A shared memory imported as `module`.`name`, of `minPages` to `maxPages` 64 KiB pages. */
  importedMemory?: { module: string; name: string; minPages: number; maxPages: number };
}

/**
 * The module in the WebAssembly text format (WAT): its imported memory and its functions, for
 * reading a kernel (and for `wat2wasm` or an engine's text loader).
 */
export function moduleText(spec: ModuleSpec): string {
  const memory = spec.importedMemory;
  const lines = ['(module'];
  if (memory) lines.push(`  (import "${memory.module}" "${memory.name}" (memory ${memory.minPages} ${memory.maxPages} shared))`);
  for (const { name: exported, body } of spec.functions) lines.push(...body.text(exported).split('\n').map((line) => `  ${line}`));
  lines.push(')');
  return lines.join('\n');
}

/**
 * Whether `CNN_WASM_DUMP` asks for this module's text: `1` or `all` for every module, else a
 * comma-separated list of function names, any of which the module exports.
 */
function dumpRequested(spec: ModuleSpec): boolean {
  const wanted = environmentVariable('CNN_WASM_DUMP');
  if (!wanted) return false;
  if (wanted === '1' || wanted === 'all') return true;
  const names = new Set(wanted.split(',').map((name) => name.trim()));
  return spec.functions.some(({ name: exported }) => names.has(exported));
}

/**
 * Encodes a module: header, then the type, import, function, export and code sections in that
 * order. With `CNN_WASM_DUMP` set (see `dumpRequested`), its text goes to the console's error
 * stream first.
 */
export function encodeModule(spec: ModuleSpec): Uint8Array {
  if (dumpRequested(spec)) console.error(moduleText(spec));
  const signatures: string[] = [];
  const types: number[][] = [];
  const typeOf = spec.functions.map(({ body }) => {
    const signature = [0x60, ...vector(body.params.map((t) => [t])), ...vector(body.results.map((t) => [t]))];
    const key = signature.join(',');
    let index = signatures.indexOf(key);
    if (index < 0) {
      index = signatures.push(key) - 1;
      types.push(signature);
    }
    return index;
  });

  const exports = spec.functions.map(({ name: exported }, index) => [...name(exported), ExternalKind.function, ...unsignedLeb(index)]);
  const bytes = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  bytes.push(...section(SectionId.type, vector(types)));
  if (spec.importedMemory) {
    const { module, name: field, minPages, maxPages } = spec.importedMemory;
    const limits = [SHARED_LIMITS, ...unsignedLeb(minPages), ...unsignedLeb(maxPages)];
    bytes.push(...section(SectionId.import, vector([[...name(module), ...name(field), ExternalKind.memory, ...limits]])));
  }
  bytes.push(...section(SectionId.function, vector(typeOf.map((index) => unsignedLeb(index)))));
  bytes.push(...section(SectionId.export, vector(exports)));
  bytes.push(...section(SectionId.code, vector(spec.functions.map(({ body }) => body.encode()))));
  return new Uint8Array(bytes);
}

/**
 * `while (counter != 0) { body(); counter-- }` as a wasm block around a loop: the block
 * skips a zero count, the loop runs the body and branches back while the count is non-zero.
 */
export function countDown(f: FunctionBuilder, counter: number, body: () => void): void {
  f.block((done: Label) => {
    f.localGet(counter).i32Eqz().brIf(done);
    f.loop((again: Label) => {
      body();
      f.localGet(counter).i32Const(1).i32Sub().localTee(counter).brIf(again);
    });
  });
}

/** `local += amount` (an i32 constant or, given as a local index, that local's value). */
export function addTo(f: FunctionBuilder, local: number, amount: { constant: number } | { local: number }): void {
  f.localGet(local);
  if ('constant' in amount) f.i32Const(amount.constant);
  else f.localGet(amount.local);
  f.i32Add().localSet(local);
}

/** Floats in a v128, and bytes in a float (for the loop helpers below). */
const LANES = 4;
const FLOAT = 4;

/**
 * Runs `vector()` on every whole group of four floats and `scalar()` on the rest, for `count`
 * floats (a local), with every pointer in `pointers` moved on by a group or a float after each call.
 */
export function lanesThenRest(f: FunctionBuilder, count: number, pointers: number[], vector: () => void, scalar: () => void): void {
  const n = f.local(ValType.i32);
  f.localGet(count).i32Const(LANES).i32DivU().localSet(n);
  countDown(f, n, () => {
    vector();
    for (const pointer of pointers) addTo(f, pointer, { constant: FLOAT * LANES });
  });
  f.localGet(count).i32Const(LANES).i32RemU().localSet(n);
  countDown(f, n, () => {
    scalar();
    for (const pointer of pointers) addTo(f, pointer, { constant: FLOAT });
  });
}
