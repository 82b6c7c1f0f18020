import { CaffeFormatError } from './errors.js';
import type { BlobProto, NetParameter } from './schema.js';
import { MAX_BINARY_BYTES, readFileSniffed } from './file-read.js';
import { describeNotBinaryProto, sniffBinaryProto } from './sniff.js';
import { WireDecoder } from './wire.js';

/**
 * Runs `decode` and turns anything that is not a CaffeFormatError into one, so a bug or a
 * library exception on hostile input still reaches the caller as a typed error with the file.
 */
export function guardDecode<T>(file: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof CaffeFormatError) throw err;
    const what = err instanceof Error ? err.message : String(err);
    throw new CaffeFormatError(`cannot decode: ${what}`, { file }, { cause: err });
  }
}

/** Decodes bytes as a message of `typeName`, returning the error instead of throwing it. */
function tryDecode(bytes: Uint8Array, typeName: string): Record<string, unknown> | CaffeFormatError {
  try {
    return guardDecode('<probe>', () => new WireDecoder(bytes, '<probe>').decodeRoot(typeName));
  } catch (err) {
    return err as CaffeFormatError;
  }
}

/**
 * Reads a binary `.caffemodel` (a NetParameter) as stored: V1 files keep `layers` with enum types
 * and legacy blob dims, V2 files have `layer`; pass the result to `upgradeNetParameter` for a V2
 * net either way. Blob payloads are Float32Array views of `bytes` where aligned, so keep `bytes`
 * unmodified while the result is in use.
 *
 * @param bytes the file's contents
 * @param file the name used in error messages
 * @param options.alignInPlace move unaligned payloads within `bytes` instead of copying them
 *   (see WireDecoder): `bytes` is changed, so only for a buffer read for this call alone
 * @throws CaffeFormatError for an empty, truncated or corrupt file, a file of another kind (HTML
 *   page, Git LFS pointer, prototxt, mean file, HDF5 snapshot, ...), a file with both `layer` and
 *   `layers`, or one without any layer; the error names the byte offset, layer and blob.
 */
export function readCaffemodel(bytes: Uint8Array, file = '<buffer>', options: { alignInPlace?: boolean } = {}): NetParameter {
  const wrong = describeNotBinaryProto(bytes, '.caffemodel');
  if (wrong) throw new CaffeFormatError(`${wrong}`, { file, offset: 0 });
  let net: NetParameter;
  const decoder = new WireDecoder(bytes, file, options.alignInPlace ?? false);
  try {
    net = guardDecode(file, () => decoder.decodeRoot('NetParameter')) as NetParameter;
  } catch (err) {
    // A mean file given as weights fails in NetParameter's first field; say what it is.
    const asBlob = tryDecode(bytes, 'BlobProto');
    if (!(asBlob instanceof CaffeFormatError) && (asBlob as unknown as BlobProto).data.length > 0) {
      throw new CaffeFormatError(
        'is a single BlobProto (a .binaryproto such as a mean file), not a .caffemodel: read it with readBinaryproto',
        { file, offset: 0 },
        { cause: err },
      );
    }
    throw err;
  }
  checkLayers(net, file, decoder.firstOffsets, bytes.length);
  return net;
}

/** The checks a decoded net must pass to be a model: some layers, and not both kinds. */
function checkLayers(net: NetParameter, file: string, firstOffsets: Map<number, number>, size: number): void {
  const v1 = net.layers?.length ?? 0;
  const v2 = net.layer?.length ?? 0;
  if (v1 > 0 && v2 > 0) {
    // Point at the first entry of whichever kind comes second.
    const offset = Math.max(firstOffsets.get(2) ?? 0, firstOffsets.get(100) ?? 0);
    throw new CaffeFormatError(
      `has both V2 'layer' (${v2}) and legacy V1 'layers' (${v1}) entries; Caffe cannot upgrade such a net, so it is refused`,
      { file, offset },
    );
  }
  if (v1 === 0 && v2 === 0) {
    throw new CaffeFormatError(
      `decodes as a protobuf message but holds no layers: a file truncated before its first layer, or not a Caffe model (${describeFields(net)})`,
      { file, offset: size },
    );
  }
}

/**
 * Decodes binary bytes as any schema message (`SolverState`, `BlobProtoVector`, ...), with the
 * same bounds checks and errors as readCaffemodel but without its file-kind checks.
 *
 * @throws CaffeFormatError for truncated or corrupt data.
 */
export function decodeMessage(bytes: Uint8Array, messageType: string, file = '<buffer>'): Record<string, unknown> {
  return guardDecode(file, () => new WireDecoder(bytes, file).decodeRoot(messageType));
}

function describeFields(net: NetParameter): string {
  const keys = Object.keys(net);
  return keys.length === 0 ? 'no known fields' : `fields: ${keys.join(', ')}`;
}

/**
 * Reads a `.caffemodel` file from disk (see readCaffemodel), its head checked before the rest is
 * read (readFileSniffed). Other file-system errors are passed through.
 */
export function readCaffemodelFile(path: string): NetParameter {
  return readCaffemodel(readFileSniffed(path, { kind: '.caffemodel', maxBytes: MAX_BINARY_BYTES, sniff: sniffBinaryProto('.caffemodel') }), path);
}
