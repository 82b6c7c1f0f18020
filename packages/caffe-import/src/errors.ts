/** Where in a Caffe file a problem was found; every field is optional. */
export interface CaffeErrorLocation {
  /** The file name (or `<buffer>` / `<string>` when there is none). */
  file?: string;
  /** Byte offset in a binary file. */
  offset?: number;
  /** 1-based line in a text file. */
  line?: number;
  /** 1-based column in a text file. */
  column?: number;
  /** The layer's name (or `#index` when the name is not known yet). */
  layer?: string;
  /** The blob's index within its layer. */
  blob?: number;
}

/**
 * A Caffe file (`.caffemodel`, `.prototxt`, `.binaryproto`) is malformed, truncated, of the wrong
 * kind, or describes something this importer refuses. The message names the file and the place:
 * the byte offset for binary files, line and column for text, and the layer and blob when known.
 */
export class CaffeFormatError extends Error {
  override readonly name = 'CaffeFormatError';
  readonly file?: string;
  readonly offset?: number;
  readonly line?: number;
  readonly column?: number;
  readonly layer?: string;
  readonly blob?: number;
  /** The message without the location prefix and suffix. */
  readonly detail: string;

  constructor(detail: string, where: CaffeErrorLocation = {}, options?: { cause?: unknown }) {
    super(formatMessage(detail, where), options);
    this.detail = detail;
    if (where.file !== undefined) this.file = where.file;
    if (where.offset !== undefined) this.offset = where.offset;
    if (where.line !== undefined) this.line = where.line;
    if (where.column !== undefined) this.column = where.column;
    if (where.layer !== undefined) this.layer = where.layer;
    if (where.blob !== undefined) this.blob = where.blob;
  }
}

// `file:line:column: detail (layer "x", blob 0, byte offset 12)`, the shape compilers use, so
// editors and terminals can jump to the place.
function formatMessage(detail: string, where: CaffeErrorLocation): string {
  let head = where.file ?? '';
  if (where.line !== undefined) {
    head += `:${where.line}`;
    if (where.column !== undefined) head += `:${where.column}`;
  }
  const extras: string[] = [];
  if (where.layer !== undefined) extras.push(`layer "${where.layer}"`);
  if (where.blob !== undefined) extras.push(`blob ${where.blob}`);
  if (where.offset !== undefined) extras.push(`byte offset ${where.offset}`);
  const tail = extras.length > 0 ? ` (${extras.join(', ')})` : '';
  return head ? `${head}: ${detail}${tail}` : `${detail}${tail}`;
}
