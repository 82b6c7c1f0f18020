import { guardDecode } from './caffemodel.js';
import { CaffeFormatError } from './errors.js';
import type { BlobProto, NetParameter } from './schema.js';
import { MAX_BINARY_BYTES, readFileSniffed } from './file-read.js';
import { describeNotBinaryProto, sniffBinaryProto } from './sniff.js';
import { WireDecoder } from './wire.js';

/**
 * Reads a `.binaryproto` file: one BlobProto, such as Caffe's ImageNet mean image (legacy dims
 * 1 x 3 x 256 x 256, BGR). `data` is a view of `bytes` when aligned (see BlobProto).
 *
 * @param bytes the file's contents
 * @param file the name used in error messages
 * @throws CaffeFormatError for an empty, truncated or corrupt file, a file of another kind
 *   (a .caffemodel, prototxt, HTML page, Git LFS pointer, NumPy array, ...), or a blob without data.
 */
export function readBinaryproto(bytes: Uint8Array, file = '<buffer>'): BlobProto {
  const wrong = describeNotBinaryProto(bytes, '.binaryproto');
  if (wrong) throw new CaffeFormatError(wrong, { file, offset: 0 });
  let blob: BlobProto;
  try {
    blob = guardDecode(file, () => new WireDecoder(bytes, file).decodeRoot('BlobProto')) as unknown as BlobProto;
  } catch (err) {
    if (looksLikeNet(bytes)) {
      throw new CaffeFormatError(
        'is a NetParameter (a .caffemodel), not a .binaryproto blob: read it with readCaffemodel',
        { file, offset: 0 },
        { cause: err },
      );
    }
    throw err;
  }
  if (blob.data.length === 0) {
    if (looksLikeNet(bytes)) {
      throw new CaffeFormatError('is a NetParameter (a .caffemodel), not a .binaryproto blob: read it with readCaffemodel', {
        file,
        offset: 0,
      });
    }
    throw new CaffeFormatError('decodes as a BlobProto but holds no data', { file, offset: 0 });
  }
  return blob;
}

function looksLikeNet(bytes: Uint8Array): boolean {
  try {
    const net = new WireDecoder(bytes, '<probe>').decodeRoot('NetParameter') as NetParameter;
    return (net.layer?.length ?? 0) + (net.layers?.length ?? 0) > 0;
  } catch {
    return false;
  }
}

/**
 * Reads a `.binaryproto` file from disk (see readBinaryproto), its head checked before the rest
 * is read (readFileSniffed). Other file-system errors are passed through.
 */
export function readBinaryprotoFile(path: string): BlobProto {
  return readBinaryproto(readFileSniffed(path, { kind: '.binaryproto', maxBytes: MAX_BINARY_BYTES, sniff: sniffBinaryProto('.binaryproto') }), path);
}
