import { writeFileSync } from 'node:fs';
import { Writer } from 'protobufjs/minimal.js';
import { LITTLE_ENDIAN } from './blob.js';
import { CaffeFormatError } from './errors.js';
import {
  blobShape,
  enumDef,
  hasLegacyDims,
  messageDef,
  V1_TYPE_TO_V2,
  type BlobProto,
  type FieldDef,
  type LayerParameter,
  type MessageDef,
  type NetParameter,
  type V1LayerParameter,
} from './schema.js';
import { upgradeNetParameter } from './upgrade.js';

/** Options for writeCaffemodel. */
export interface WriteCaffemodelOptions {
  /**
   * 'V2' (default): `layer` = 100 with string types (a V1 net is upgraded first).
   * 'V1': the legacy layout of the 2014 reference models: `layers` = 2 with enum types,
   * blobs_lr / weight_decay, and blob dims as num/channels/height/width right-aligned (an
   * InnerProduct weight 1 x 1 x OUT x IN, a bias 1 x 1 x 1 x N).
   */
  format?: 'V2' | 'V1';
  // Blobs keep the dims they carry: legacy dims read from a V1 file stay legacy in V2 output
  // (Caffe accepts both), and `shape` is converted to right-aligned legacy dims only for V1.
  /** The name used in error messages. */
  file?: string;
}

const utf8 = new TextEncoder();

const V2_TYPE_TO_V1: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(V1_TYPE_TO_V2).map(([v1, v2]) => [v2, v1]),
);

// ---------------------------------------------------------------------------------------------
// Binary encoding. Sizes are computed first so each length prefix is written directly and the
// output buffer is allocated once at its exact size: no growing, no shifting of 200 MB payloads.

function varintSize(v: number): number {
  let n = 1;
  // Negative numbers are written as 10-byte two's complement varints, as protobuf does.
  if (v < 0) return 10;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function tagSize(id: number): number {
  return varintSize(id * 8);
}

function wireType(field: FieldDef): number {
  switch (field.kind) {
    case 'float':
      return 5;
    case 'double':
      return 1;
    case 'string':
    case 'message':
      return 2;
    default:
      return 0;
  }
}

class Encoder {
  private readonly sizes = new Map<object, number>();
  private readonly strings = new Map<string, Uint8Array>();

  constructor(private readonly file: string) {}

  fail(detail: string): never {
    throw new CaffeFormatError(detail, { file: this.file });
  }

  private enumNumber(def: MessageDef, field: FieldDef, name: unknown): number {
    const e = enumDef(field.type!);
    const n = typeof name === 'string' && Object.hasOwn(e.values, name) ? e.values[name] : undefined;
    if (n === undefined) this.fail(`unknown value ${String(name)} for enum ${e.name} in ${def.name}.${field.name}`);
    return n;
  }

  private bytesOf(s: string): Uint8Array {
    let b = this.strings.get(s);
    if (!b) {
      b = utf8.encode(s);
      this.strings.set(s, b);
    }
    return b;
  }

  private scalarSize(def: MessageDef, field: FieldDef, v: unknown): number {
    switch (field.kind) {
      case 'float':
        return 4;
      case 'double':
        return 8;
      case 'bool':
        return 1;
      case 'string': {
        const n = this.bytesOf(this.checkString(def, field, v)).length;
        return varintSize(n) + n;
      }
      case 'enum':
        return varintSize(this.enumNumber(def, field, v));
      default:
        return varintSize(this.checkInt(def, field, v));
    }
  }

  private checkString(def: MessageDef, field: FieldDef, v: unknown): string {
    if (typeof v !== 'string') this.fail(`${def.name}.${field.name} must be a string, got ${typeof v}`);
    return v;
  }

  private checkInt(def: MessageDef, field: FieldDef, v: unknown): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(`${def.name}.${field.name} must be an integer, got ${String(v)}`);
    if (field.kind.startsWith('uint') && v < 0) this.fail(`${def.name}.${field.name} is unsigned but holds ${v}`);
    return v;
  }

  /** Encoded size of a message's fields (without its own tag and length). */
  size(def: MessageDef, msg: Record<string, unknown>): number {
    const cached = this.sizes.get(msg);
    if (cached !== undefined) return cached;
    let total = 0;
    for (const field of def.fields) {
      const value = msg[field.name];
      if (value === undefined) continue;
      if (def.name === 'BlobProto' && field.name !== 'shape' && field.id >= 5) {
        // Only `data` is written for a blob (gradients are never kept; doubles were converted).
        if (field.name === 'data') {
          const n = (value as Float32Array).length;
          if (n > 0) total += tagSize(5) + varintSize(n * 4) + n * 4;
        }
        continue;
      }
      if (field.repeated) {
        const list = value as unknown[];
        if (!Array.isArray(list)) this.fail(`${def.name}.${field.name} is repeated but is not an array`);
        if (list.length === 0) continue;
        if (field.packed) {
          let payload = 0;
          for (const v of list) payload += this.scalarSize(def, field, v);
          total += tagSize(field.id) + varintSize(payload) + payload;
        } else {
          for (const v of list) total += tagSize(field.id) + this.elementSize(def, field, v);
        }
      } else {
        total += tagSize(field.id) + this.elementSize(def, field, value);
      }
    }
    this.sizes.set(msg, total);
    return total;
  }

  private elementSize(def: MessageDef, field: FieldDef, v: unknown): number {
    if (field.kind === 'message') {
      if (v === null || typeof v !== 'object') this.fail(`${def.name}.${field.name} must be a message object`);
      const n = this.size(messageDef(field.type!), v as Record<string, unknown>);
      return varintSize(n) + n;
    }
    return this.scalarSize(def, field, v);
  }

  write(w: Writer, def: MessageDef, msg: Record<string, unknown>): void {
    for (const field of def.fields) {
      const value = msg[field.name];
      if (value === undefined) continue;
      if (def.name === 'BlobProto' && field.name !== 'shape' && field.id >= 5) {
        if (field.name === 'data') this.writeFloats(w, value as Float32Array);
        continue;
      }
      if (field.repeated) {
        const list = value as unknown[];
        if (list.length === 0) continue;
        if (field.packed) {
          let payload = 0;
          for (const v of list) payload += this.scalarSize(def, field, v);
          w.uint32(field.id * 8 + 2).uint32(payload);
          for (const v of list) this.writeScalar(w, def, field, v);
        } else {
          for (const v of list) this.writeElement(w, def, field, v);
        }
      } else {
        this.writeElement(w, def, field, value);
      }
    }
  }

  private writeElement(w: Writer, def: MessageDef, field: FieldDef, v: unknown): void {
    w.uint32(field.id * 8 + wireType(field));
    if (field.kind === 'message') {
      const sub = messageDef(field.type!);
      const m = v as Record<string, unknown>;
      w.uint32(this.size(sub, m));
      this.write(w, sub, m);
    } else {
      this.writeScalar(w, def, field, v);
    }
  }

  private writeScalar(w: Writer, def: MessageDef, field: FieldDef, v: unknown): void {
    switch (field.kind) {
      case 'float':
        w.float(v as number);
        return;
      case 'double':
        w.double(v as number);
        return;
      case 'bool':
        w.bool(v as boolean);
        return;
      case 'string': {
        const b = this.bytesOf(v as string);
        w.uint32(b.length).raw(b);
        return;
      }
      case 'enum':
        w.int32(this.enumNumber(def, field, v));
        return;
      default: {
        const n = v as number;
        // Writer.int64 takes JS numbers exactly up to 2^53 and writes negatives as 10 bytes.
        if (n >= 0 && n <= 0xffffffff) w.uint32(n);
        else w.int64(n);
      }
    }
  }

  // The payload goes out as one raw copy of the Float32Array's bytes (little-endian on every
  // host Node runs on), not value by value: this is what makes a 244 MB model write in seconds.
  private writeFloats(w: Writer, data: Float32Array): void {
    if (!(data instanceof Float32Array)) this.fail('BlobProto.data must be a Float32Array');
    if (data.length === 0) return;
    w.uint32(5 * 8 + 2).uint32(data.length * 4);
    if (LITTLE_ENDIAN) {
      w.raw(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      const bytes = new Uint8Array(data.length * 4);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
      w.raw(bytes);
    }
  }
}

/**
 * Encodes any schema message (`messageType`) in binary wire format, in field-number order as
 * Caffe's C++ protobuf does, so re-encoding a decoded Caffe file gives back its bytes. BlobProto
 * writes `data` packed from its Float32Array in one copy; gradients are never written.
 *
 * @throws CaffeFormatError for values that do not fit their field (a non-integer in an int field,
 *   an unknown enum name, ...).
 */
export function encodeMessage(message: object, messageType: string, file = '<output>'): Uint8Array {
  const enc = new Encoder(file);
  const def = messageDef(messageType);
  const msg = message as Record<string, unknown>;
  const total = enc.size(def, msg);
  const w = new Writer();
  // Pre-sized to the exact output: the Writer never grows, and finish(true) hands the buffer back.
  w.buf = new Uint8Array(total);
  enc.write(w, def, msg);
  if (w.pos !== total) throw new Error(`caffe-import writer: wrote ${w.pos} bytes, expected ${total}`);
  return w.finish(true);
}

/**
 * Encodes a net as a binary `.caffemodel`, V2 by default or, with `format: 'V1'`, in the legacy
 * layout of the 2014 BVLC reference models (see WriteCaffemodelOptions). Reading the result back
 * with readCaffemodel gives the same net (and the same weight bytes).
 *
 * @throws CaffeFormatError when a V2 net cannot be expressed in V1 (a layer type or field V1
 *   does not have, a blob with more than 4 axes), or for values that do not fit their field.
 */
export function writeCaffemodel(net: NetParameter, options: WriteCaffemodelOptions = {}): Uint8Array {
  const file = options.file ?? '<output>';
  const format = options.format ?? 'V2';
  let out: NetParameter;
  if (format === 'V1') {
    out = (net.layer?.length ?? 0) > 0 ? downgradeToV1(net, file) : net;
  } else {
    out = (net.layers?.length ?? 0) > 0 ? upgradeNetParameter(net, file).net : net;
  }
  return encodeMessage(out, 'NetParameter', file);
}

/** Writes a net to a `.caffemodel` file (see writeCaffemodel). */
export function writeCaffemodelFile(path: string, net: NetParameter, options: WriteCaffemodelOptions = {}): void {
  writeFileSync(path, writeCaffemodel(net, { file: path, ...options }));
}

// ---------------------------------------------------------------------------------------------
// V2 -> V1.

/**
 * Rewrites a V2 net in the legacy V1 form: type strings to enums, ParamSpecs to blobs_lr /
 * weight_decay / param / blob_share_mode, blob shapes to right-aligned legacy 4-D dims, and an
 * Input layer to net-level `input` + `input_dim` (or `input_shape` when a shape is not 4-D). The
 * runtime-only `phase` field has no V1 counterpart and is dropped.
 *
 * @throws CaffeFormatError for what V1 cannot express.
 */
export function downgradeToV1(net: NetParameter, file = '<output>'): NetParameter {
  if ((net.layers?.length ?? 0) > 0 && (net.layer?.length ?? 0) > 0) {
    throw new CaffeFormatError("the net has both 'layer' and 'layers'", { file });
  }
  const { layer: v2 = [], ...rest } = net;
  const out: NetParameter = { ...rest };
  const layers: V1LayerParameter[] = [];
  const v1Def = messageDef('V1LayerParameter');
  v2.forEach((l, index) => {
    const label = l.name ?? `#${index}`;
    if (l.type === 'Input') {
      addNetInputs(out, l, label, file);
      return;
    }
    const v1: V1LayerParameter = {};
    for (const [key, value] of Object.entries(l)) {
      if (value === undefined) continue;
      switch (key) {
        case 'type': {
          const t = Object.hasOwn(V2_TYPE_TO_V1, value as string) ? V2_TYPE_TO_V1[value as string] : undefined;
          if (t === undefined) throw new CaffeFormatError(`layer type "${String(value)}" has no V1 equivalent`, { file, layer: label });
          v1.type = t;
          break;
        }
        case 'phase':
          break;
        case 'param':
          setV1ParamSpecs(v1, value as NonNullable<LayerParameter['param']>);
          break;
        case 'blobs':
          v1.blobs = (value as BlobProto[]).map((b, i) => legacyBlob(b, file, label, i));
          break;
        default:
          if (!v1Def.byName.has(key)) throw new CaffeFormatError(`field ${key} has no V1 equivalent`, { file, layer: label });
          v1[key] = value;
      }
    }
    layers.push(v1);
  });
  if (layers.length > 0) out.layers = layers;
  return out;
}

function setV1ParamSpecs(v1: V1LayerParameter, specs: NonNullable<LayerParameter['param']>): void {
  // V1 stored each setting as its own array, so an array is written only when some spec sets it,
  // with Caffe's defaults filling the gaps.
  if (specs.some((s) => s.lr_mult !== undefined)) v1.blobs_lr = specs.map((s) => s.lr_mult ?? 1);
  if (specs.some((s) => s.decay_mult !== undefined)) v1.weight_decay = specs.map((s) => s.decay_mult ?? 1);
  if (specs.some((s) => s.name !== undefined)) v1.param = specs.map((s) => s.name ?? '');
  if (specs.some((s) => s.share_mode !== undefined)) v1.blob_share_mode = specs.map((s) => s.share_mode ?? 'STRICT');
}

function legacyBlob(blob: BlobProto, file: string, layer: string, index: number): BlobProto {
  if (hasLegacyDims(blob) && !blob.shape) return blob;
  const dims = blobShape(blob);
  if (dims.length > 4) {
    throw new CaffeFormatError(`a ${dims.length}-axis blob [${dims.join(',')}] cannot be written with V1 legacy dims`, {
      file,
      layer,
      blob: index,
    });
  }
  const [num, channels, height, width] = [...Array<number>(4 - dims.length).fill(1), ...dims];
  const { shape: _shape, ...rest } = blob;
  return { ...rest, num, channels, height, width };
}

function addNetInputs(net: NetParameter, input: LayerParameter, label: string, file: string): void {
  const tops = input.top ?? [];
  const shapes = input.input_param?.shape ?? [];
  if (shapes.length !== tops.length) {
    throw new CaffeFormatError(`Input layer with ${tops.length} top(s) and ${shapes.length} shape(s) cannot be written as V1 inputs`, {
      file,
      layer: label,
    });
  }
  net.input = [...(net.input ?? []), ...tops];
  if (shapes.every((s) => s.dim.length === 4) && !net.input_shape) {
    net.input_dim = [...(net.input_dim ?? []), ...shapes.flatMap((s) => s.dim)];
  } else {
    if (net.input_dim) throw new CaffeFormatError('inputs mix 4-D input_dim and other shapes', { file, layer: label });
    net.input_shape = [...(net.input_shape ?? []), ...shapes.map((s) => ({ dim: [...s.dim] }))];
  }
}

// ---------------------------------------------------------------------------------------------
// Text format.

/** Options for formatPrototxt. */
export interface FormatPrototxtOptions {
  /** Leave out layer blobs (for a deploy/train prototxt next to a .caffemodel). Default false. */
  omitBlobs?: boolean;
  /** Spaces per nesting level. Default 2. */
  indent?: number;
}

/** The shortest decimal that reads back as the same float32. */
function formatFloat32(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Object.is(x, -0)) return '-0';
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(x.toPrecision(p));
    if (Math.fround(candidate) === x) return String(candidate);
  }
  return String(x);
}

function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Object.is(x, -0)) return '-0';
  return String(x);
}

function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function formatScalar(field: FieldDef, v: unknown): string {
  switch (field.kind) {
    case 'string':
      return quoteString(v as string);
    case 'float':
      return formatFloat32(v as number);
    case 'double':
      return formatDouble(v as number);
    case 'bool':
      return v ? 'true' : 'false';
    case 'enum':
      return String(v);
    default:
      return String(v);
  }
}

function formatMessageLines(def: MessageDef, msg: Record<string, unknown>, depth: number, lines: string[], options: Required<FormatPrototxtOptions>): void {
  const pad = ' '.repeat(depth * options.indent);
  for (const field of def.fields) {
    let value = msg[field.name];
    if (value === undefined) continue;
    if (def.name === 'BlobProto') {
      if (field.name === 'diff' || field.name === 'double_data' || field.name === 'double_diff') continue;
      if (field.name === 'data') value = Array.from(value as Float32Array);
    }
    if (options.omitBlobs && field.name === 'blobs' && (def.name === 'LayerParameter' || def.name === 'V1LayerParameter')) continue;
    const values = field.repeated ? (value as unknown[]) : [value];
    for (const v of values) {
      if (field.kind === 'message') {
        lines.push(`${pad}${field.name} {`);
        formatMessageLines(messageDef(field.type!), v as Record<string, unknown>, depth + 1, lines, options);
        lines.push(`${pad}}`);
      } else {
        lines.push(`${pad}${field.name}: ${formatScalar(field, v)}`);
      }
    }
  }
}

/**
 * Formats a message as protobuf text (a `.prototxt`), fields in field-number order like Caffe's
 * own dumps. Float fields print the shortest decimal that reads back as the same float32, so
 * `parsePrototxt(formatPrototxt(m))` equals `m` exactly (blob data included unless omitted).
 */
export function formatPrototxt(message: object, messageType = 'NetParameter', options: FormatPrototxtOptions = {}): string {
  const opts: Required<FormatPrototxtOptions> = { omitBlobs: options.omitBlobs ?? false, indent: options.indent ?? 2 };
  const lines: string[] = [];
  formatMessageLines(messageDef(messageType), message as Record<string, unknown>, 0, lines, opts);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** Writes a message to a `.prototxt` file (see formatPrototxt). */
export function writePrototxtFile(path: string, message: object, messageType = 'NetParameter', options: FormatPrototxtOptions = {}): void {
  writeFileSync(path, formatPrototxt(message, messageType, options));
}
