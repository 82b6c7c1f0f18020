import { blobProblem } from './blob.js';
import { CaffeFormatError } from './errors.js';
import { enumDef, messageDef, type BlobProto, type FieldDef, type MessageDef, type NetParameter, type SolverParameter } from './schema.js';
import { MAX_TEXT_BYTES, readFileSniffed } from './file-read.js';
import { describeNotPrototxt } from './sniff.js';

/*
 * Protobuf text format, written here rather than taken from protobufjs 8's ext/textformat: that
 * extension reports errors with a line but no column and reports value errors (an unknown enum, a
 * bad integer) with no position at all, and it builds reflection message instances; Caffe users
 * need `file:line:column` and the field path, and we want the plain objects of schema.ts.
 *
 * Grammar accepted (what Caffe's C++ TextFormat parser accepts in practice):
 *   message  := (field [',' | ';'])*
 *   field    := name ':' value | name [':'] ('{' message '}' | '<' message '>')
 *             | name ':' '[' [value (',' value)*] ']'          (repeated fields)
 *   value    := ['-'] number | ['-'] (inf | infinity | nan) | identifier | string+
 * Strings take C escapes and adjacent strings concatenate; comments run from '#' to end of line.
 */

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';

interface Token {
  kind: TokenKind;
  /** Identifier or punctuation text, number literal, or decoded string. */
  text: string;
  line: number;
  column: number;
}

const PUNCT = new Set(['{', '}', '<', '>', ':', '[', ']', ',', ';', '-']);
const IDENT_START = /[A-Za-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_]/;
const NUMBER = /(0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?)/y;

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

class Tokenizer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private peeked: Token | null = null;

  constructor(
    private readonly src: string,
    private readonly fail: (detail: string, line: number, column: number) => never,
  ) {}

  peek(): Token {
    this.peeked ??= this.scan();
    return this.peeked;
  }

  next(): Token {
    const t = this.peek();
    this.peeked = null;
    return t;
  }

  private scan(): Token {
    const s = this.src;
    for (;;) {
      if (this.pos >= s.length) return this.token('eof', '', this.pos);
      const c = s[this.pos];
      if (c === '\n') {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\uFEFF') {
        this.pos++;
      } else if (c === '#') {
        while (this.pos < s.length && s[this.pos] !== '\n') this.pos++;
      } else {
        break;
      }
    }
    const start = this.pos;
    const c = s[start];
    if (IDENT_START.test(c)) {
      let end = start + 1;
      while (end < s.length && IDENT_CHAR.test(s[end])) end++;
      this.pos = end;
      return this.token('ident', s.slice(start, end), start);
    }
    if ((c >= '0' && c <= '9') || (c === '.' && /[0-9]/.test(s[start + 1] ?? ''))) {
      NUMBER.lastIndex = start;
      const m = NUMBER.exec(s);
      const end = start + (m ? m[0].length : 1);
      if (!m || (end < s.length && (IDENT_CHAR.test(s[end]) || s[end] === '.'))) {
        let stop = end;
        while (stop < s.length && (IDENT_CHAR.test(s[stop]) || s[stop] === '.')) stop++;
        this.failAt(`malformed number "${s.slice(start, stop)}"`, start);
      }
      this.pos = end;
      return this.token('number', m[0], start);
    }
    if (c === '"' || c === "'") return this.scanString(start, c);
    if (PUNCT.has(c)) {
      this.pos++;
      return this.token('punct', c, start);
    }
    const shown = c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c;
    return this.failAt(`unexpected character '${shown}'`, start);
  }

  // Text-format strings are byte strings: escapes give bytes, the rest is UTF-8, and the whole
  // is decoded as UTF-8 at the end (as Caffe's string fields are).
  private scanString(start: number, quote: string): Token {
    const s = this.src;
    const bytes: number[] = [];
    let i = start + 1;
    for (;;) {
      if (i >= s.length || s[i] === '\n') this.failAt('unterminated string', start);
      const c = s[i];
      if (c === quote) {
        i++;
        break;
      }
      if (c !== '\\') {
        const code = c.codePointAt(0)!;
        const width = code > 0xffff ? 2 : 1;
        if (code < 0x80) bytes.push(code);
        else bytes.push(...utf8Encoder.encode(s.slice(i, i + width)));
        i += width;
        continue;
      }
      const e = s[i + 1];
      i += 2;
      const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, "'": 39, '"': 34, '?': 63, a: 7, b: 8, f: 12, v: 11 };
      if (e !== undefined && e in simple) {
        bytes.push(simple[e]);
      } else if (e !== undefined && /[0-7]/.test(e)) {
        let v = Number(e);
        for (let k = 0; k < 2 && /[0-7]/.test(s[i] ?? ''); k++) v = v * 8 + Number(s[i++]);
        if (v > 255) this.failAt(`octal escape \\${v.toString(8)} is larger than a byte`, i - 4);
        bytes.push(v);
      } else if (e === 'x' || e === 'X') {
        const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i, i + 2));
        if (!m) this.failAt('\\x escape without hex digits', i - 2);
        bytes.push(parseInt(m[0], 16));
        i += m[0].length;
      } else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const hex = s.slice(i, i + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) this.failAt(`\\${e} escape needs ${n} hex digits`, i - 2);
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.failAt(`\\${e}${hex} is not a valid code point`, i - 2);
        bytes.push(...utf8Encoder.encode(String.fromCodePoint(cp)));
        i += n;
      } else {
        this.failAt(`unknown escape '\\${e ?? ''}' in string`, i - 2);
      }
    }
    this.pos = i;
    return this.token('string', utf8.decode(new Uint8Array(bytes)), start);
  }

  private token(kind: TokenKind, text: string, at: number): Token {
    return { kind, text, line: this.line, column: at - this.lineStart + 1 };
  }

  private failAt(detail: string, at: number): never {
    return this.fail(detail, this.line, at - this.lineStart + 1);
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the file';
    case 'string':
      return `string ${JSON.stringify(t.text.length > 30 ? `${t.text.slice(0, 30)}...` : t.text)}`;
    default:
      return `'${t.text}'`;
  }
}

// Hints for the classic V1/V2 mix-ups: a V1 field inside a V2 `layer` or the reverse.
const FIELD_HINTS: Record<string, Record<string, string>> = {
  LayerParameter: {
    blobs_lr: "blobs_lr is a V1 'layers' field; in a V2 'layer' write param { lr_mult: ... }",
    weight_decay: "weight_decay is a V1 'layers' field; in a V2 'layer' write param { decay_mult: ... }",
  },
};

type Value = unknown;

class Parser {
  private readonly tok: Tokenizer;
  private readonly path: string[] = [];
  private layerName: string | undefined;

  constructor(
    private readonly file: string,
    text: string,
  ) {
    this.tok = new Tokenizer(text, (detail, line, column) => this.fail(detail, line, column));
  }

  fail(detail: string, line: number, column: number): never {
    const where = this.path.length > 0 ? ` (in ${this.path.join('.')})` : '';
    throw new CaffeFormatError(`${detail}${where}`, { file: this.file, line, column, layer: this.layerName });
  }

  private failAt(t: Token, detail: string): never {
    return this.fail(detail, t.line, t.column);
  }

  parseRoot(def: MessageDef): Record<string, unknown> {
    const out = this.parseMessage(def, null);
    return out;
  }

  private parseMessage(def: MessageDef, close: '}' | '>' | null, open?: Token): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const seen = new Map<string, Token>();
    const tok = this.tok;
    for (;;) {
      const t = tok.next();
      if (t.kind === 'eof') {
        if (close && open) this.failAt(t, `missing '${close}' to close the block opened at line ${open.line}, column ${open.column}`);
        break;
      }
      if (t.kind === 'punct' && t.text === close) break;
      if (t.kind !== 'ident') {
        if (t.kind === 'punct' && t.text === '[') this.failAt(t, 'extension and Any fields ([...]) are not used by Caffe and not supported');
        this.failAt(t, `expected a field name${close ? ` or '${close}'` : ''}, found ${describe(t)}`);
      }
      const field = def.byName.get(t.text);
      if (!field) this.unknownField(def, t);
      const prev = seen.get(field.name);
      if (prev && !field.repeated) {
        this.failAt(t, `field "${field.name}" of ${def.name} is not repeated but is set again (first at line ${prev.line})`);
      }
      if (!prev) seen.set(field.name, t);
      this.parseField(def, field, t, out);
      const sep = tok.peek();
      if (sep.kind === 'punct' && (sep.text === ',' || sep.text === ';')) tok.next();
    }
    if (def.name === 'BlobProto') return this.finishBlob(out, open);
    // An empty BlobShape is a scalar's shape, not a missing one: keep `dim` present.
    if (def.name === 'BlobShape') out.dim ??= [];
    if (def.name === 'NetParameter') this.checkNet(seen);
    return out;
  }

  private unknownField(def: MessageDef, t: Token): never {
    const hints = Object.hasOwn(FIELD_HINTS, def.name) ? FIELD_HINTS[def.name] : {};
    const hint = Object.hasOwn(hints, t.text) ? hints[t.text] : undefined;
    let extra = hint ? `: ${hint}` : '';
    if (!hint && def.name === 'LayerParameter' && messageDef('V1LayerParameter').byName.has(t.text)) {
      extra = ` (it is a V1 'layers' field)`;
    } else if (!hint && def.name === 'V1LayerParameter' && messageDef('LayerParameter').byName.has(t.text)) {
      extra = ` (it is a V2 'layer' field)`;
    }
    return this.failAt(t, `unknown field "${t.text}" in ${def.name}${extra}`);
  }

  private parseField(def: MessageDef, field: FieldDef, nameTok: Token, out: Record<string, unknown>): void {
    const tok = this.tok;
    const index = field.repeated ? ((out[field.name] as unknown[] | undefined)?.length ?? 0) : -1;
    this.path.push(index >= 0 ? `${field.name}[${index}]` : field.name);
    const isLayer = field.type === 'LayerParameter' || field.type === 'V1LayerParameter';
    const savedLayer = this.layerName;
    if (isLayer) this.layerName = `#${index}`;
    if (field.kind === 'message') {
      const subDef = messageDef(field.type!);
      let t = tok.next();
      if (t.kind === 'punct' && t.text === ':') t = tok.next();
      if (t.kind === 'punct' && t.text === '[' && field.repeated) {
        // `field: [ {...}, {...} ]`: a list of messages.
        this.path.pop();
        if (!this.acceptPunct(']')) {
          for (;;) {
            this.path.push(`${field.name}[${(out[field.name] as unknown[] | undefined)?.length ?? 0}]`);
            const o = tok.next();
            this.push(out, field, this.parseBlock(subDef, o));
            this.path.pop();
            if (this.acceptPunct(']')) break;
            this.expectPunct(',');
          }
        }
        this.layerName = savedLayer;
        return;
      }
      const value = this.parseBlock(subDef, t);
      if (field.repeated) this.push(out, field, value);
      else out[field.name] = value;
    } else {
      const colon = tok.next();
      if (colon.kind !== 'punct' || colon.text !== ':') {
        if (colon.kind === 'punct' && (colon.text === '{' || colon.text === '<')) {
          const hint = def.name === 'V1LayerParameter' && field.name === 'param' ? " (in V1 'layers' write blobs_lr / weight_decay)" : '';
          this.failAt(colon, `"${field.name}" is a ${field.kind} field of ${def.name}, not a message${hint}`);
        }
        this.failAt(colon, `expected ':' after field name "${nameTok.text}", found ${describe(colon)}`);
      }
      if (field.repeated && this.acceptPunct('[')) {
        if (!this.acceptPunct(']')) {
          for (;;) {
            this.push(out, field, this.parseScalar(def, field));
            if (this.acceptPunct(']')) break;
            this.expectPunct(',');
          }
        }
      } else {
        const value = this.parseScalar(def, field);
        if (field.repeated) this.push(out, field, value);
        else out[field.name] = value;
        if (isNameOfLayer(def, field)) this.layerName = value as string;
      }
    }
    this.path.pop();
    if (isLayer) this.layerName = savedLayer;
  }

  private parseBlock(def: MessageDef, open: Token): Record<string, unknown> {
    if (open.kind !== 'punct' || (open.text !== '{' && open.text !== '<')) {
      this.failAt(open, `expected '{' to start a ${def.name}, found ${describe(open)}`);
    }
    const close = open.text === '{' ? '}' : '>';
    if (def.opaque) {
      this.skipBlock(open, close);
      return {};
    }
    return this.parseMessage(def, close, open);
  }

  // Skips a block we never interpret (a V0 layer), keeping brackets balanced.
  private skipBlock(open: Token, close: string): void {
    const stack = [close];
    while (stack.length > 0) {
      const t = this.tok.next();
      if (t.kind === 'eof') this.failAt(t, `missing '${stack[stack.length - 1]}' to close the block opened at line ${open.line}`);
      if (t.kind !== 'punct') continue;
      if (t.text === '{') stack.push('}');
      else if (t.text === '<') stack.push('>');
      else if (t.text === stack[stack.length - 1]) stack.pop();
    }
  }

  private push(out: Record<string, unknown>, field: FieldDef, value: Value): void {
    ((out[field.name] ??= []) as Value[]).push(value);
  }

  private acceptPunct(p: string): boolean {
    const t = this.tok.peek();
    if (t.kind === 'punct' && t.text === p) {
      this.tok.next();
      return true;
    }
    return false;
  }

  private expectPunct(p: string): void {
    const t = this.tok.next();
    if (t.kind !== 'punct' || t.text !== p) this.failAt(t, `expected '${p}', found ${describe(t)}`);
  }

  private parseScalar(def: MessageDef, field: FieldDef): Value {
    const tok = this.tok;
    const t = tok.next();
    const label = `${def.name}.${field.name}`;
    switch (field.kind) {
      case 'string': {
        if (t.kind !== 'string') this.failAt(t, `expected a string for ${label}, found ${describe(t)}`);
        let s = t.text;
        while (tok.peek().kind === 'string') s += tok.next().text;
        return s;
      }
      case 'bool': {
        if (t.kind === 'ident' && ['true', 'True', 't'].includes(t.text)) return true;
        if (t.kind === 'ident' && ['false', 'False', 'f'].includes(t.text)) return false;
        if (t.kind === 'number' && (t.text === '0' || t.text === '1')) return t.text === '1';
        return this.failAt(t, `expected true or false for ${label}, found ${describe(t)}`);
      }
      case 'enum': {
        const e = enumDef(field.type!);
        if (t.kind === 'ident') {
          if (!Object.hasOwn(e.values, t.text)) {
            this.failAt(t, `unknown value ${t.text} for ${label} (enum ${e.name}: ${Object.keys(e.values).join(', ')})`);
          }
          return t.text;
        }
        if (t.kind === 'number' || (t.kind === 'punct' && t.text === '-')) {
          const n = this.integer(t, label, true, 32);
          const name = e.byNumber.get(n);
          if (name === undefined) this.failAt(t, `unknown value ${n} for ${label} (enum ${e.name})`);
          return name;
        }
        return this.failAt(t, `expected an enum value for ${label}, found ${describe(t)}`);
      }
      case 'float':
      case 'double': {
        let negative = false;
        let v = t;
        if (v.kind === 'punct' && v.text === '-') {
          negative = true;
          v = tok.next();
        }
        let x: number;
        if (v.kind === 'ident' && /^(inf|infinity)$/i.test(v.text)) x = Infinity;
        else if (v.kind === 'ident' && /^nan$/i.test(v.text)) x = NaN;
        else if (v.kind === 'number') x = parseNumberLiteral(v.text);
        else return this.failAt(v, `expected a number for ${label}, found ${describe(v)}`);
        if (negative) x = -x;
        // Store float fields as the float32 Caffe would hold, so text and binary decode alike.
        return field.kind === 'float' ? Math.fround(x) : x;
      }
      default:
        return this.integer(t, label, field.kind === 'int32' || field.kind === 'int64', field.kind.endsWith('32') ? 32 : 64);
    }
  }

  private integer(first: Token, label: string, signed: boolean, bits: 32 | 64): number {
    let t = first;
    let negative = false;
    if (t.kind === 'punct' && t.text === '-') {
      negative = true;
      t = this.tok.next();
    }
    if (t.kind !== 'number' || !/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(t.text)) {
      return this.failAt(t, `expected an integer for ${label}, found ${describe(t)}`);
    }
    const text = t.text;
    // A leading 0 means octal in text format, as in C.
    let v = /^0[0-7]+$/.test(text) ? BigInt(`0o${text.slice(1)}`) : BigInt(text);
    if (/^0[0-9]+$/.test(text) && !/^0[0-7]+$/.test(text)) this.failAt(t, `invalid octal integer ${text} for ${label}`);
    if (negative) v = -v;
    if (negative && !signed) this.failAt(first, `negative value for unsigned field ${label}`);
    const limit = bits === 32 ? (signed ? 2n ** 31n : 2n ** 32n) : BigInt(Number.MAX_SAFE_INTEGER) + 1n;
    const low = bits === 32 && signed ? -limit : bits === 64 && signed ? -limit : 0n;
    if (v >= limit || v < low) this.failAt(first, `integer ${v} out of range for ${label}`);
    return Number(v);
  }

  /** Turns the parsed BlobProto fields into our BlobProto shape and validates it. */
  private finishBlob(fields: Record<string, unknown>, open?: Token): Record<string, unknown> {
    const { data, double_data, diff: _diff, double_diff: _ddiff, ...rest } = fields as Record<string, number[] | undefined>;
    const floats = data ?? [];
    const doubles = double_data ?? [];
    const line = open?.line ?? 1;
    const column = open?.column ?? 1;
    if (floats.length > 0 && doubles.length > 0) this.fail('blob has both data and double_data', line, column);
    const values = Float32Array.from(doubles.length > 0 ? doubles : floats);
    const blob = { ...(rest as object), data: values } as BlobProto;
    const problem = blobProblem(blob);
    if (problem) this.fail(`blob ${problem}`, line, column);
    return blob as unknown as Record<string, unknown>;
  }

  private checkNet(seen: Map<string, Token>): void {
    const v1 = seen.get('layers');
    const v2 = seen.get('layer');
    if (v1 && v2) {
      const later = v1.line > v2.line || (v1.line === v2.line && v1.column > v2.column) ? v1 : v2;
      this.failAt(
        later,
        `the net mixes V2 'layer' (first at line ${v2.line}) and legacy V1 'layers' (first at line ${v1.line}); use one kind only`,
      );
    }
  }
}

function isNameOfLayer(def: MessageDef, field: FieldDef): boolean {
  return field.name === 'name' && (def.name === 'LayerParameter' || def.name === 'V1LayerParameter');
}

function parseNumberLiteral(text: string): number {
  if (/^0[xX]/.test(text)) return Number.parseInt(text.slice(2), 16);
  const t = text.replace(/[fF]$/, '');
  // A leading 0 makes an integer octal, as in C (floats like 0.5 are unaffected).
  if (/^0[0-7]+$/.test(t)) return Number.parseInt(t.slice(1), 8);
  return Number(t);
}

/**
 * Parses protobuf text format (a `.prototxt`) into a plain message object of `messageType`, the
 * same representation the binary readers produce. V1 nets (`layers { type: CONVOLUTION }`,
 * `input:` / `input_dim:`) are returned as written; pass them to `upgradeNetParameter`.
 *
 * @param text the file's text
 * @param file the name used in error messages
 * @param messageType the schema message type of the top-level message (default NetParameter)
 * @throws CaffeFormatError with file, line, column and field path for syntax errors, unknown
 *   fields (Caffe is strict too), bad values, a field set twice, a net mixing `layer` and
 *   `layers`, and binary data, HTML pages or Git LFS pointers given as text.
 */
export function parsePrototxt(text: string, file = '<string>', messageType = 'NetParameter'): Record<string, unknown> {
  const wrong = describeNotPrototxt(text);
  if (wrong) throw new CaffeFormatError(wrong, { file, line: 1, column: 1 });
  const parser = new Parser(file, text);
  return parser.parseRoot(messageDef(messageType));
}

/** Parses a net prototxt (NetParameter); see parsePrototxt. */
export function parseNetPrototxt(text: string, file = '<string>'): NetParameter {
  return parsePrototxt(text, file, 'NetParameter') as NetParameter;
}

/** Parses a solver prototxt (SolverParameter); see parsePrototxt. */
export function parseSolverPrototxt(text: string, file = '<string>'): SolverParameter {
  return parsePrototxt(text, file, 'SolverParameter') as SolverParameter;
}

/**
 * Decodes a text file's bytes as UTF-8, refusing binary content with a CaffeFormatError that
 * gives the offset of the first offending byte.
 */
export function decodeTextFile(bytes: Uint8Array, file: string): string {
  const binary = findNul(bytes.subarray(0, 1 << 16));
  if (binary) throw new CaffeFormatError(binary.why, { file, offset: binary.offset });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CaffeFormatError('is not valid UTF-8 text: a binary file given where a .prototxt was expected?', {
      file,
      offset: firstInvalidUtf8(bytes),
    });
  }
}

/** The first NUL byte of `bytes`, a sign of binary content, or null (the head check of a prototxt). */
function findNul(bytes: Uint8Array): { why: string; offset: number } | null {
  const offset = bytes.indexOf(0);
  if (offset < 0) return null;
  return {
    why: 'contains binary data (a NUL byte), not protobuf text: a binary .caffemodel or .binaryproto given where a .prototxt was expected? Read it with readCaffemodel / readBinaryproto',
    offset,
  };
}

/** The offset of the first byte that breaks UTF-8 (structure only: lead and continuation bytes). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const extra = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (extra < 0) return i;
    for (let k = 1; k <= extra; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < 0x80 || c > 0xbf) return i;
    }
    i += extra + 1;
  }
  return 0;
}

/** Reads and parses a prototxt file of `messageType` from disk (see parsePrototxt). */
export function readPrototxtFile(path: string, messageType = 'NetParameter'): Record<string, unknown> {
  const bytes = readFileSniffed(path, { kind: '.prototxt', maxBytes: MAX_TEXT_BYTES, sniff: findNul });
  return parsePrototxt(decodeTextFile(bytes, path), path, messageType);
}

/** Reads a net prototxt file (NetParameter) from disk. */
export function readNetPrototxtFile(path: string): NetParameter {
  return readPrototxtFile(path, 'NetParameter') as NetParameter;
}

/** Reads a solver prototxt file (SolverParameter) from disk. */
export function readSolverPrototxtFile(path: string): SolverParameter {
  return readPrototxtFile(path, 'SolverParameter') as SolverParameter;
}
