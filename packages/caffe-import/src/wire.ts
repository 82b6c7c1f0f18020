import { allocate } from '@cnn/tensor';
import { Reader } from 'protobufjs/minimal.js';
import { blobProblem, concatFloat32, LITTLE_ENDIAN } from './blob.js';
import { CaffeFormatError } from './errors.js';
import { enumDef, messageDef, type BlobProto, type FieldDef, type MessageDef } from './schema.js';

/** Protobuf wire types. */
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32', 'invalid (6)', 'invalid (7)'];

// Unknown groups can nest; real Caffe files have none, so a deep nest is corruption.
const MAX_GROUP_DEPTH = 32;

const utf8 = new TextDecoder('utf-8');

const TWO_32 = 2n ** 32n;
const TWO_64 = 2n ** 64n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function expectedWireType(field: FieldDef): number {
  switch (field.kind) {
    case 'float':
      return FIXED32;
    case 'double':
      return FIXED64;
    case 'string':
    case 'message':
      return LEN;
    default:
      return VARINT;
  }
}

/**
 * Walks protobuf wire format over one buffer, decoding only the message types of our schema into
 * plain objects (see schema.ts) and skipping everything else by wire type. It never trusts a
 * length or varint: each is checked against the end of its enclosing message before use, so a
 * corrupt length can neither read past the buffer nor make us allocate more than the file holds.
 * Blob payloads become Float32Array views of the buffer instead of arrays of JS numbers, which is
 * what makes a 244 MB model cheap to read. Every failure is a CaffeFormatError naming the file,
 * the byte offset, and the layer and blob being read.
 */
export class WireDecoder {
  private readonly reader: Reader;
  private layer: string | undefined;
  private blob: number | undefined;
  /** Where each top-level field number first occurs (filled by decodeRoot), for later checks. */
  readonly firstOffsets = new Map<number, number>();

  /**
   * @param alignInPlace let the decoder move an unaligned float payload back by 1 to 3 bytes,
   *   over its own tag and length (already read), so it can be viewed instead of copied. The
   *   bytes no longer form a valid message afterwards: only for a buffer nobody else reads,
   *   such as the one loadModel reads the file into.
   */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
    private readonly alignInPlace = false,
  ) {
    this.reader = new Reader(bytes);
  }

  /** Current read position. */
  get pos(): number {
    return this.reader.pos;
  }

  /** Throws a CaffeFormatError at `offset` with the current layer/blob context. */
  fail(detail: string, offset: number = this.reader.pos): never {
    throw new CaffeFormatError(detail, { file: this.file, offset, layer: this.layer, blob: this.blob });
  }

  /** Decodes the whole buffer as one message of type `typeName`. */
  decodeRoot(typeName: string): Record<string, unknown> {
    const def = messageDef(typeName);
    if (typeName === 'BlobProto') return this.decodeBlob(this.bytes.length) as unknown as Record<string, unknown>;
    return this.decodeMessage(def, this.bytes.length, {}, this.firstOffsets);
  }

  // `end` bounds this message; reading past it is corruption even if the file goes on.
  private decodeMessage(
    def: MessageDef,
    end: number,
    out: Record<string, unknown>,
    offsets?: Map<number, number>,
  ): Record<string, unknown> {
    const r = this.reader;
    while (r.pos < end) {
      const tagAt = r.pos;
      const tag = this.readTag(end);
      const id = tag >>> 3;
      const wire = tag & 7;
      if (offsets && !offsets.has(id)) offsets.set(id, tagAt);
      const field = def.opaque ? undefined : def.byId.get(id);
      if (!field) {
        this.skipField(id, wire, end, tagAt, 0);
        continue;
      }
      this.readField(def, field, wire, end, tagAt, out);
    }
    return out;
  }

  private readField(def: MessageDef, field: FieldDef, wire: number, end: number, tagAt: number, out: Record<string, unknown>): void {
    const expected = expectedWireType(field);
    if (field.kind === 'message') {
      if (wire !== LEN) this.wrongWireType(def, field, wire, expected, tagAt);
      const len = this.readLayerAwareLength(field, end, out);
      const subEnd = this.reader.pos + len;
      const subDef = messageDef(field.type!);
      if (field.repeated) {
        const list = (out[field.name] ??= []) as unknown[];
        list.push(this.decodeSubMessage(subDef, subEnd, list.length, undefined));
      } else {
        // A singular message seen twice is merged into the first, as protobuf does.
        const prev = out[field.name] as Record<string, unknown> | undefined;
        out[field.name] = this.decodeSubMessage(subDef, subEnd, 0, prev);
      }
      return;
    }
    if (field.repeated && wire === LEN && expected !== LEN) {
      // Packed encoding of a repeated scalar; parsers must accept it whether or not the field is
      // declared packed.
      const len = this.readLength(end);
      const packedEnd = this.reader.pos + len;
      const list = (out[field.name] ??= []) as unknown[];
      while (this.reader.pos < packedEnd) list.push(this.readScalar(def, field, packedEnd));
      return;
    }
    if (wire !== expected) this.wrongWireType(def, field, wire, expected, tagAt);
    const value = this.readScalar(def, field, end);
    if (field.repeated) ((out[field.name] ??= []) as unknown[]).push(value);
    else out[field.name] = value;
  }

  // A truncated file usually fails on the length of the layer it was cut in, before that layer is
  // entered; name the layer anyway (from its first field, where V2 writes the name).
  private readLayerAwareLength(field: FieldDef, end: number, out: Record<string, unknown>): number {
    if (field.type !== 'LayerParameter' && field.type !== 'V1LayerParameter') return this.readLength(end);
    const saved = this.layer;
    const index = ((out[field.name] as unknown[] | undefined)?.length ?? 0);
    this.layer = this.peekLayerName(end) ?? `#${index}`;
    const len = this.readLength(end);
    this.layer = saved;
    return len;
  }

  private peekLayerName(end: number): string | undefined {
    const b = this.bytes;
    let p = this.reader.pos;
    while (p < end && b[p] >= 0x80) p++;
    p++;
    // V2 LayerParameter.name is field 1 (tag 0x0a) and comes first; a short name has a 1-byte length.
    if (p + 2 > end || b[p] !== 0x0a || b[p + 1] >= 0x80 || p + 2 + b[p + 1] > end) return undefined;
    return utf8.decode(b.subarray(p + 2, p + 2 + b[p + 1]));
  }

  private decodeSubMessage(
    def: MessageDef,
    end: number,
    index: number,
    into: Record<string, unknown> | undefined,
  ): Record<string, unknown> {
    if (def.name === 'BlobProto') {
      const saved = this.blob;
      this.blob = index;
      const blob = this.decodeBlob(end);
      this.blob = saved;
      return blob as unknown as Record<string, unknown>;
    }
    const isLayer = def.name === 'LayerParameter' || def.name === 'V1LayerParameter';
    const savedLayer = this.layer;
    const savedBlob = this.blob;
    if (isLayer) {
      this.layer = `#${index}`;
      this.blob = undefined;
    }
    const out = this.decodeMessage(def, end, into ?? {});
    // An empty BlobShape is a scalar's shape, not a missing one: keep `dim` present.
    if (def.name === 'BlobShape') out.dim ??= [];
    if (isLayer) {
      this.layer = savedLayer;
      this.blob = savedBlob;
    }
    return out;
  }

  private wrongWireType(def: MessageDef, field: FieldDef, wire: number, expected: number, at: number): never {
    this.fail(
      `field ${def.name}.${field.name} (${field.id}) has wire type ${WIRE_NAMES[wire]}, expected ${WIRE_NAMES[expected]}: the file is corrupt or not a Caffe file`,
      at,
    );
  }

  private readScalar(def: MessageDef, field: FieldDef, end: number): unknown {
    const r = this.reader;
    const at = r.pos;
    switch (field.kind) {
      case 'float':
        this.need(4, end);
        return r.float();
      case 'double':
        this.need(8, end);
        return r.double();
      case 'string': {
        const len = this.readLength(end);
        const s = utf8.decode(this.bytes.subarray(r.pos, r.pos + len));
        r.pos += len;
        // The layer name labels every later error inside this layer.
        if (field.name === 'name' && (def.name === 'LayerParameter' || def.name === 'V1LayerParameter')) this.layer = s;
        return s;
      }
      case 'bool':
        return this.readVarint(end) !== 0n;
      case 'enum': {
        const n = this.toInt(this.readVarint(end), true, 32, def, field, at);
        const e = enumDef(field.type!);
        const name = e.byNumber.get(n);
        if (name === undefined) this.fail(`unknown value ${n} for enum ${e.name} in field ${def.name}.${field.name}`, at);
        return name;
      }
      case 'int32':
        return this.toInt(this.readVarint(end), true, 32, def, field, at);
      case 'uint32':
        return this.toInt(this.readVarint(end), false, 32, def, field, at);
      case 'int64':
        return this.toInt(this.readVarint(end), true, 64, def, field, at);
      case 'uint64':
        return this.toInt(this.readVarint(end), false, 64, def, field, at);
      default:
        return this.fail(`unsupported field kind ${String(field.kind)}`, at);
    }
  }

  // Interprets the raw 64 bits of a varint as the field's integer type; values a JS number cannot
  // hold exactly are refused rather than rounded.
  private toInt(raw: bigint, signed: boolean, bits: 32 | 64, def: MessageDef, field: FieldDef, at: number): number {
    let v = raw;
    if (signed && v >= TWO_64 / 2n) v -= TWO_64;
    const ok =
      bits === 32
        ? signed
          ? v >= -(TWO_32 / 2n) && v < TWO_32 / 2n
          : v >= 0n && v < TWO_32
        : v >= -MAX_SAFE && v <= MAX_SAFE;
    if (!ok) this.fail(`value ${v} out of range for ${field.kind} field ${def.name}.${field.name}`, at);
    return Number(v);
  }

  /** Reads a varint of up to 10 bytes ending before `end`, as its raw unsigned 64 bits. */
  private readVarint(end: number): bigint {
    const r = this.reader;
    const start = r.pos;
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (start + i >= end) this.pastEnd(start, end, 'a varint');
      const b = this.bytes[start + i];
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        r.pos = start + i + 1;
        return value & (TWO_64 - 1n);
      }
    }
    return this.fail('varint longer than 10 bytes', start);
  }

  // Tags and lengths are at most 32 bits; protobufjs's Reader decodes them once we know the
  // varint ends inside the message and fits.
  private readSmallVarint(end: number, what: string): number {
    const r = this.reader;
    const start = r.pos;
    for (let i = 0; ; i++) {
      if (start + i >= end) this.pastEnd(start, end, what);
      const b = this.bytes[start + i];
      if (i === 4 && b > 0x0f) this.fail(`${what} does not fit in 32 bits`, start);
      if (b < 0x80) break;
    }
    return r.uint32();
  }

  private readTag(end: number): number {
    const at = this.reader.pos;
    const tag = this.readSmallVarint(end, 'a field tag');
    if (tag >>> 3 === 0) this.fail('field number 0 in a tag: the data is corrupt or not a protobuf message', at);
    return tag;
  }

  /** Reads a length prefix and checks the bytes it announces are inside the enclosing message. */
  private readLength(end: number): number {
    const at = this.reader.pos;
    const len = this.readSmallVarint(end, 'a length');
    if (len > end - this.reader.pos) {
      const remaining = end - this.reader.pos;
      if (end === this.bytes.length) {
        this.fail(
          `a field announces ${len} bytes but only ${remaining} remain in the file (${this.bytes.length} bytes): the file is truncated or corrupt`,
          at,
        );
      }
      this.fail(`a field announces ${len} bytes but only ${remaining} remain in its enclosing message: the data is corrupt`, at);
    }
    return len;
  }

  private need(n: number, end: number): void {
    if (this.reader.pos + n > end) this.pastEnd(this.reader.pos, end, `a ${n}-byte value`);
  }

  private pastEnd(at: number, end: number, what: string): never {
    if (end === this.bytes.length) {
      this.fail(`the file ends in the middle of ${what} (file size ${this.bytes.length} bytes): it looks truncated`, at);
    }
    this.fail(`${what} runs past the end of its enclosing message (at byte ${end}): the data is corrupt`, at);
  }

  private skipField(id: number, wire: number, end: number, tagAt: number, depth: number): void {
    const r = this.reader;
    switch (wire) {
      case VARINT:
        this.readVarint(end);
        return;
      case FIXED64:
        this.need(8, end);
        r.skip(8);
        return;
      case LEN:
        r.skip(this.readLength(end));
        return;
      case FIXED32:
        this.need(4, end);
        r.skip(4);
        return;
      case START_GROUP: {
        if (depth >= MAX_GROUP_DEPTH) this.fail('unknown groups nested too deeply: the data is corrupt', tagAt);
        for (;;) {
          const innerAt = r.pos;
          const tag = this.readTag(end);
          if ((tag & 7) === END_GROUP) {
            if (tag >>> 3 !== id) this.fail(`end of group ${tag >>> 3} does not match group ${id}`, innerAt);
            return;
          }
          this.skipField(tag >>> 3, tag & 7, end, innerAt, depth + 1);
        }
      }
      case END_GROUP:
        this.fail(`unexpected end-group tag for field ${id}`, tagAt);
      // falls through (fail never returns)
      default:
        this.fail(`invalid wire type ${wire} for field ${id}: the data is corrupt or not a protobuf message`, tagAt);
    }
  }

  /**
   * BlobProto gets its own loop: payloads are viewed in place instead of decoded value by value,
   * gradients are skipped without being read, and the result is validated like Caffe does.
   */
  private decodeBlob(end: number): BlobProto {
    const r = this.reader;
    const def = messageDef('BlobProto');
    const start = r.pos;
    const out: Record<string, unknown> = {};
    const floatChunks: Float32Array[] = [];
    const doubleChunks: Float64Array[] = [];
    let singleFloats: number[] | null = null;
    let singleDoubles: number[] | null = null;
    let payloadAt = -1;
    while (r.pos < end) {
      const tagAt = r.pos;
      const tag = this.readTag(end);
      const id = tag >>> 3;
      const wire = tag & 7;
      if (id === 5 || id === 8) {
        const isFloat = id === 5;
        const width = isFloat ? 4 : 8;
        if (wire === LEN) {
          const len = this.readLength(end);
          if (len % width !== 0) this.fail(`packed ${isFloat ? 'float' : 'double'} payload of ${len} bytes is not a multiple of ${width}`, tagAt);
          if (payloadAt < 0) payloadAt = r.pos;
          if (isFloat) floatChunks.push(this.viewFloats(r.pos, len / 4, r.pos - tagAt));
          else doubleChunks.push(this.copyDoubles(r.pos, len / 8));
          r.pos += len;
        } else if (wire === (isFloat ? FIXED32 : FIXED64)) {
          this.need(width, end);
          if (payloadAt < 0) payloadAt = r.pos;
          if (isFloat) (singleFloats ??= []).push(r.float());
          else (singleDoubles ??= []).push(r.double());
        } else {
          this.wrongWireType(def, def.byId.get(id)!, wire, LEN, tagAt);
        }
        continue;
      }
      if (id === 6 || id === 9) {
        // Gradients (diff, double_diff) are not needed to use a model.
        this.skipField(id, wire, end, tagAt, 0);
        continue;
      }
      const field = def.byId.get(id);
      if (!field) {
        this.skipField(id, wire, end, tagAt, 0);
        continue;
      }
      this.readField(def, field, wire, end, tagAt, out);
    }
    if (singleFloats) floatChunks.push(Float32Array.from(singleFloats));
    if (singleDoubles) doubleChunks.push(Float64Array.from(singleDoubles));
    const hasFloats = floatChunks.some((c) => c.length > 0);
    const hasDoubles = doubleChunks.some((c) => c.length > 0);
    if (hasFloats && hasDoubles) this.fail('blob has both data and double_data', start);
    let data: Float32Array;
    if (hasDoubles) {
      // Float32Array.from rounds each double to the nearest float, as Caffe's Blob<float> does.
      data = concatFloat32(doubleChunks.map((c) => Float32Array.from(c)));
    } else if (floatChunks.length === 1) {
      data = floatChunks[0];
    } else {
      data = concatFloat32(floatChunks);
    }
    const blob: BlobProto = { ...(out as Partial<BlobProto>), data, byteOffset: payloadAt >= 0 ? payloadAt : start };
    const problem = blobProblem(blob);
    if (problem) this.fail(`blob ${problem}`, start);
    return blob;
  }

  // A view when the payload is 4-byte aligned in memory; a copy otherwise (typed arrays require
  // alignment), or on a big-endian host where the bytes must be swapped. With alignInPlace, an
  // unaligned payload is first moved back over the `header` bytes of its own tag and length, which
  // nothing reads again: copyWithin inside one buffer costs a fraction of a fresh copy, and no
  // second 150 MB (fc6 of CaffeNet) is allocated. A copy of a shared buffer is made shared too,
  // so the net can hand it to worker threads without copying it once more, and with the wasm
  // backend on its heap like the file, where the wasm kernels take it (a copy elsewhere sent
  // MobileNet 0.75's conv2_1/dw, whose bias lies 3 bytes off, to the TypeScript loops: 35x slower).
  private viewFloats(at: number, count: number, header: number): Float32Array {
    const byteOffset = this.bytes.byteOffset + at;
    const shift = byteOffset % 4;
    if (LITTLE_ENDIAN && shift === 0) return new Float32Array(this.bytes.buffer, byteOffset, count);
    if (LITTLE_ENDIAN && this.alignInPlace && shift <= header) {
      this.bytes.copyWithin(at - shift, at, at + count * 4);
      return new Float32Array(this.bytes.buffer, byteOffset - shift, count);
    }
    const shared = typeof SharedArrayBuffer !== 'undefined' && this.bytes.buffer instanceof SharedArrayBuffer;
    const out = shared ? (allocate(count, { dtype: 'float32', shared: true }) as Float32Array) : new Float32Array(count);
    if (LITTLE_ENDIAN) {
      new Uint8Array(out.buffer, out.byteOffset, count * 4).set(this.bytes.subarray(at, at + count * 4));
    } else {
      const view = new DataView(this.bytes.buffer, byteOffset, count * 4);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    }
    return out;
  }

  private copyDoubles(at: number, count: number): Float64Array {
    const out = new Float64Array(count);
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + at, count * 8);
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
    return out;
  }
}
