/**
 * Recognising files of the wrong kind before decoding them, so the error says what the file is
 * (an HTML page, a Git LFS pointer, a prototxt, an HDF5 snapshot, ...) instead of reporting a
 * meaningless wire error somewhere in the middle.
 */

const SNIFF_BYTES = 4096;

const latin1 = new TextDecoder('latin1');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.length <= bytes.length && magic.every((b, i) => bytes[i] === b);
}

/** The first `n` bytes as text for pattern checks (bytes above 0x7f map to Latin-1 characters). */
function head(bytes: Uint8Array, n = SNIFF_BYTES): string {
  return latin1.decode(bytes.subarray(0, Math.min(n, bytes.length)));
}

/** A short printable quote of the start of a text. */
export function quoteStart(text: string, max = 40): string {
  const line = text.replace(/^\uFEFF/, '').trimStart().split(/\r?\n/, 1)[0] ?? '';
  const cut = line.length > max ? `${line.slice(0, max)}...` : line;
  return JSON.stringify(cut);
}

/** Describes a Git LFS pointer file, or returns null. */
export function describeLfsPointer(text: string): string | null {
  if (!/^version https:\/\/git-lfs\.github\.com\/spec\//.test(text)) return null;
  const oid = /^oid (\S+)/m.exec(text)?.[1];
  const size = /^size (\d+)/m.exec(text)?.[1];
  const real = size ? ` standing in for a ${size}-byte file` : '';
  const id = oid ? ` (${oid})` : '';
  return `is a Git LFS pointer file${real}${id}, not the real file: fetch it with \`git lfs pull\` or download it directly`;
}

/** Describes an HTML or XML page, or returns null. */
export function describeMarkup(text: string): string | null {
  const t = text.replace(/^\uFEFF/, '').trimStart().slice(0, 1024).toLowerCase();
  if (!t.startsWith('<')) return null;
  if (/^<!doctype html|<html|<head|<body|<meta|<title/.test(t) || t.includes('<html')) {
    return 'is an HTML page, not a Caffe file: a download link probably returned a web page (login, redirect or error page) instead of the file';
  }
  if (t.startsWith('<?xml')) return 'is an XML document, not a Caffe file';
  return null;
}

/** Whether the bytes look like text: valid UTF-8 without control characters other than whitespace. */
function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, SNIFF_BYTES);
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  }
  // The sample may end inside a multi-byte character; allow up to 3 bytes of it to be cut.
  for (let cut = 0; cut <= 3 && cut < n; cut++) {
    try {
      strictUtf8.decode(bytes.subarray(0, n - cut));
      return true;
    } catch {
      if (n === bytes.length) return false;
    }
  }
  return false;
}

/** Text-like files shorter than this are reported by their size, not called text. */
const TOO_SHORT = 8;

/**
 * Returns why `bytes` cannot be a binary protobuf file (`kind` is ".caffemodel" or ".binaryproto"),
 * or null when it may be one. Checks: empty, Git LFS pointer, HTML/XML page, other well-known
 * binary formats (HDF5, NumPy, gzip, zip), text (a prototxt given as weights), and a file of a
 * few bytes (named by its size).
 */
export function describeNotBinaryProto(bytes: Uint8Array, kind: string): string | null {
  if (bytes.length === 0) return 'is empty (0 bytes)';
  const text = head(bytes);
  const lfs = describeLfsPointer(text);
  if (lfs) return lfs;
  const markup = describeMarkup(text);
  if (markup) return markup;
  if (startsWith(bytes, [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return `is an HDF5 file (a Caffe snapshot written with snapshot_format: HDF5?), not a protobuf ${kind}`;
  }
  if (startsWith(bytes, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) {
    return `is a NumPy .npy array (such as ilsvrc_2012_mean.npy), not a protobuf ${kind}`;
  }
  if (startsWith(bytes, [0x1f, 0x8b])) return `is gzip-compressed: decompress it first (it is not a plain ${kind})`;
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return `is a zip archive: extract the ${kind} from it first`;
  if (looksLikeText(bytes)) {
    // A few printable bytes say nothing about the format: name the size, not a guess.
    if (bytes.length < TOO_SHORT) return `is only ${bytes.length} byte${bytes.length === 1 ? '' : 's'} long: too short for a ${kind} (a truncated or placeholder file?)`;
    const start = text.replace(/^\uFEFF/, '').trimStart();
    if (/^(#|[A-Za-z_][A-Za-z0-9_]*\s*[:{<])/.test(start)) {
      return `is a text file in protobuf text format (starts with ${quoteStart(start)}): a .prototxt given where a binary ${kind} was expected; read it with parsePrototxt`;
    }
    return `is a text file (starts with ${quoteStart(start)}), not a binary ${kind}`;
  }
  return null;
}

/**
 * Why `head`, the first bytes of a file, cannot start a protobuf message, or null: all zero
 * bytes (a preallocated or never-written file), or a first field tag with field number 0 or a
 * wire type that does not exist. Checked on the head alone, so a huge file of zeros is refused
 * without being read.
 */
export function describeBadStart(head: Uint8Array): { why: string; offset: number } | null {
  if (head.length === 0) return null;
  if (head.every((b) => b === 0)) {
    return { why: `starts with ${head.length} zero bytes: a file that was allocated but never written (an interrupted copy or download?), not a protobuf message`, offset: 0 };
  }
  let tag = 0;
  for (let i = 0; i < Math.min(5, head.length); i++) {
    tag += (head[i]! & 0x7f) * 2 ** (7 * i);
    if (head[i]! < 0x80) break;
  }
  if (tag >>> 3 === 0) return { why: 'field number 0 in a tag: the data is corrupt or not a protobuf message', offset: 0 };
  const wire = tag & 7;
  if (wire === 4 || wire > 5) return { why: `invalid wire type ${wire} in the first tag: the data is corrupt or not a protobuf message`, offset: 0 };
  return null;
}

/** The head check of a binary protobuf file of `kind` (readFileSniffed): the file kinds it is not, then its first tag. */
export function sniffBinaryProto(kind: string): (head: Uint8Array) => { why: string; offset?: number } | null {
  return (head) => {
    const wrong = describeNotBinaryProto(head, kind);
    return wrong ? { why: wrong, offset: 0 } : describeBadStart(head);
  };
}

/**
 * Returns why a decoded text cannot be a prototxt (NUL bytes of binary content, a Git LFS
 * pointer, an HTML page), or null.
 */
export function describeNotPrototxt(text: string): string | null {
  if (text.slice(0, SNIFF_BYTES).includes('\u0000')) {
    return 'contains binary data (NUL bytes), not protobuf text: a binary .caffemodel or .binaryproto given where a .prototxt was expected? Read it with readCaffemodel / readBinaryproto';
  }
  return describeLfsPointer(text) ?? describeMarkup(text);
}
