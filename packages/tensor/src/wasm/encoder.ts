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

/**
 * Builds one function: declare locals, then append instructions. Every method emits
 * exactly the instruction it is named after (`f32x4Mul` is `f32x4.mul`), so a kernel
 * reads like the text format.
 */
export class FunctionBuilder {
  private readonly code: number[] = [];
  private readonly locals: ValType[] = [];
  /** How many blocks are open: a label's branch depth is measured from here. */
  private openBlocks = 0;

  /**
   * `name` names the function in the errors of this builder (the kernel, as `module.function`).
   */
  constructor(
    readonly params: readonly ValType[],
    readonly results: readonly ValType[] = [],
    readonly name = 'function',
  ) {}

  /** Declares a local of `type` and returns its index (parameters come first). */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  // Control flow. The body runs with the new label; `br`/`brIf` to it leave a block
  // (jump past its end) or restart a loop (jump to its top).
  block(body: (label: Label) => void): this {
    return this.structured(0x02, body);
  }

  loop(body: (label: Label) => void): this {
    return this.structured(0x03, body);
  }

  /** `if` with an optional `else`, consuming an i32 condition. */
  if(then: (label: Label) => void, otherwise?: (label: Label) => void): this {
    this.code.push(0x04, EMPTY_BLOCK);
    const label = { depth: ++this.openBlocks };
    then(label);
    if (otherwise) {
      this.code.push(0x05);
      otherwise(label);
    }
    this.code.push(0x0b);
    this.openBlocks--;
    return this;
  }

  /** `call` of the module's function number `index` (its place in `ModuleSpec.functions`). */
  call(index: number): this {
    return this.emit(0x10, ...unsignedLeb(index));
  }

  br(label: Label): this {
    return this.emit(0x0c, ...unsignedLeb(this.relativeDepth(label)));
  }

  brIf(label: Label): this {
    return this.emit(0x0d, ...unsignedLeb(this.relativeDepth(label)));
  }

  // Variables.
  localGet(index: number): this {
    return this.emit(0x20, ...unsignedLeb(index));
  }

  localSet(index: number): this {
    return this.emit(0x21, ...unsignedLeb(index));
  }

  localTee(index: number): this {
    return this.emit(0x22, ...unsignedLeb(index));
  }

  // Integer arithmetic (i32).
  i32Const(value: number): this {
    return this.emit(0x41, ...signedLeb(value));
  }

  i32Eqz(): this {
    return this.emit(0x45);
  }

  i32Add(): this {
    return this.emit(0x6a);
  }

  i32Sub(): this {
    return this.emit(0x6b);
  }

  i32Mul(): this {
    return this.emit(0x6c);
  }

  i32DivU(): this {
    return this.emit(0x6e);
  }

  i32RemU(): this {
    return this.emit(0x70);
  }

  i32Shl(): this {
    return this.emit(0x74);
  }

  i32And(): this {
    return this.emit(0x71);
  }

  i32Eq(): this {
    return this.emit(0x46);
  }

  // i32 comparisons (signed), each leaving 1 or 0.
  i32LtS(): this {
    return this.emit(0x48);
  }

  i32GeS(): this {
    return this.emit(0x4e);
  }

  i32GtS(): this {
    return this.emit(0x4a);
  }

  i32Store(offset = 0): this {
    return this.emit(0x36, ...memarg(2, offset));
  }

  /** `select`: of the two values under the condition on top of the stack, the first if it is non-zero. */
  select(): this {
    return this.emit(0x1b);
  }

  /** `memory.fill` (bulk memory): [address, byte value, length] -> fills length bytes. */
  memoryFill(): this {
    return this.emit(0xfc, ...unsignedLeb(11), 0x00);
  }

  // Scalar float32, for the edges the vector loops leave.
  f32Load(offset = 0): this {
    return this.emit(0x2a, ...memarg(2, offset));
  }

  f32Store(offset = 0): this {
    return this.emit(0x38, ...memarg(2, offset));
  }

  f32Add(): this {
    return this.emit(0x92);
  }

  f32Mul(): this {
    return this.emit(0x94);
  }

  f32Sub(): this {
    return this.emit(0x93);
  }

  f32Const(value: number): this {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return this.emit(0x43, ...bytes);
  }

  f32Gt(): this {
    return this.emit(0x5e);
  }

  f32Max(): this {
    return this.emit(0x97);
  }

  f32Min(): this {
    return this.emit(0x96);
  }

  // 128-bit SIMD. `offset` is a constant byte offset added to the address on the stack;
  // `alignLog2` is only a hint (the access is correct at any alignment).
  v128Load(offset = 0, alignLog2 = 4): this {
    return this.simd(0x00, ...memarg(alignLog2, offset));
  }

  /** Loads one 32-bit value and copies it into all four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.simd(0x09, ...memarg(2, offset));
  }

  v128Store(offset = 0, alignLog2 = 4): this {
    return this.simd(0x0b, ...memarg(alignLog2, offset));
  }

  /** `v128.const` of sixteen zero bytes. */
  v128Zero(): this {
    return this.simd(0x0c, ...new Array<number>(16).fill(0));
  }

  /** `v128.const` of four i32 lanes. */
  i32x4Const(lanes: [number, number, number, number]): this {
    return this.simd(0x0c, ...new Uint8Array(new Int32Array(lanes).buffer));
  }

  i32x4Splat(): this {
    return this.simd(0x11);
  }

  i32x4Add(): this {
    return this.simd(0xae);
  }

  /** `f32x4.extract_lane`: lane `lane` (0-3) of the vector on the stack, as an f32. */
  f32x4ExtractLane(lane: number): this {
    return this.simd(0x1f, lane);
  }

  f32x4Splat(): this {
    return this.simd(0x13);
  }

  f32x4Add(): this {
    return this.simd(0xe4);
  }

  f32x4Mul(): this {
    return this.simd(0xe6);
  }

  f32x4Sub(): this {
    return this.simd(0xe5);
  }

  f32x4Div(): this {
    return this.simd(0xe7);
  }

  f32x4Sqrt(): this {
    return this.simd(0xe3);
  }

  f32x4Min(): this {
    return this.simd(0xe8);
  }

  f32x4Max(): this {
    return this.simd(0xe9);
  }

  /** Lane-wise a > b: all ones where true, zeros where false. */
  f32x4Gt(): this {
    return this.simd(0x44);
  }

  /**
   * `i8x16.shuffle` by 32-bit lanes: lane i of the result is lane `lanes[i]` of a (0-3) or
   * of b (4-7), for the two vectors [a, b] on the stack.
   */
  shuffle32(lanes: [number, number, number, number]): this {
    return this.simd(0x0d, ...lanes.flatMap((lane) => [0, 1, 2, 3].map((byte) => lane * 4 + byte)));
  }

  /**
   * `f32x4.relaxed_madd` (relaxed SIMD): [a, b, c] -> a * b + c, with one rounding (a fused
   * multiply-add) or two, as the hardware does it. Only valid where the engine has relaxed SIMD
   * (see `relaxedSimdSupported`).
   */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }

  /** `v128.bitselect`: [a, b, mask] -> the bits of a where mask is 1, of b where it is 0. */
  v128Bitselect(): this {
    return this.simd(0x52);
  }

  /** The function's code entry: size, local declarations (runs of one type), instructions, `end`. */
  encode(): number[] {
    if (this.openBlocks !== 0) throw new Error('FunctionBuilder.encode: a block is still open');
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

  private structured(opcode: number, body: (label: Label) => void): this {
    this.code.push(opcode, EMPTY_BLOCK);
    body({ depth: ++this.openBlocks });
    this.code.push(0x0b);
    this.openBlocks--;
    return this;
  }

  private relativeDepth(label: Label): number {
    if (label.depth > this.openBlocks) throw new Error('FunctionBuilder: branch to a label whose block is closed');
    return this.openBlocks - label.depth;
  }

  private simd(opcode: number, ...immediates: number[]): this {
    return this.emit(SIMD_PREFIX, ...unsignedLeb(opcode), ...immediates);
  }

  private emit(...bytes: number[]): this {
    for (const byte of bytes) this.code.push(byte);
    return this;
  }
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

/** Encodes a module: header, then the type, import, function, export and code sections in that order. */
export function encodeModule(spec: ModuleSpec): Uint8Array {
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
