import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (three levels above this file: src/testing -> package -> packages -> root). */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/**
 * The Caffe fixtures directory, `<repo root>/../shared/fixtures/caffe`. Tests must not silently
 * pass without their fixtures, so a missing directory is an error with the path it looked at.
 */
export function caffeFixturesDir(): string {
  const dir = path.resolve(REPO_ROOT, '../shared/fixtures/caffe');
  if (!existsSync(dir)) {
    throw new Error(
      `Caffe fixtures not found at ${dir} (expected <repo root>/../shared/fixtures/caffe); the caffe-import tests need them`,
    );
  }
  return dir;
}

/** Absolute path of a fixture file, given relative to the caffe fixtures directory. */
export function fixturePath(relative: string): string {
  return path.join(caffeFixturesDir(), relative);
}

/** The bytes of a fixture file. */
export function fixtureBytes(relative: string): Uint8Array {
  return readFileSync(fixturePath(relative));
}

/** The text of a fixture file. */
export function fixtureText(relative: string): string {
  return readFileSync(fixturePath(relative), 'utf8');
}

/** A fixture `.f32` tensor (raw little-endian float32). */
export function fixtureF32(relative: string): Float32Array {
  const b = readFileSync(fixturePath(relative));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Every real and synthetic `.caffemodel` fixture: path, format and the prototxt describing it. */
export const CAFFEMODELS = [
  { file: 'real/lenet/model.caffemodel', format: 'V2', deploy: 'real/lenet/deploy.prototxt' },
  { file: 'real/cifar10_quick/model.caffemodel', format: 'V1', deploy: 'real/cifar10_quick/deploy.prototxt' },
  { file: 'real/mtcnn_det1_pnet/model.caffemodel', format: 'V2', deploy: 'real/mtcnn_det1_pnet/deploy.prototxt' },
  { file: 'real/mtcnn_det2_rnet/model.caffemodel', format: 'V2', deploy: 'real/mtcnn_det2_rnet/deploy.prototxt' },
  { file: 'real/mtcnn_det3_onet/model.caffemodel', format: 'V2', deploy: 'real/mtcnn_det3_onet/deploy.prototxt' },
  { file: 'caffenet_tiny/caffenet_tiny_v1.caffemodel', format: 'V1', deploy: 'caffenet_tiny/deploy_v1.prototxt' },
  { file: 'caffenet_tiny/caffenet_tiny_v2.caffemodel', format: 'V2', deploy: 'caffenet_tiny/deploy.prototxt' },
] as const;

/** Every `.prototxt` fixture and the message type it holds. */
export const PROTOTXTS = [
  { file: 'real/lenet/deploy.prototxt', type: 'NetParameter' },
  { file: 'real/cifar10_quick/deploy.prototxt', type: 'NetParameter' },
  { file: 'real/cifar10_quick/upstream_prediction_example.prototxt', type: 'NetParameter' },
  { file: 'real/mtcnn_det1_pnet/deploy.prototxt', type: 'NetParameter' },
  { file: 'real/mtcnn_det2_rnet/deploy.prototxt', type: 'NetParameter' },
  { file: 'real/mtcnn_det3_onet/deploy.prototxt', type: 'NetParameter' },
  { file: 'caffenet_tiny/deploy.prototxt', type: 'NetParameter' },
  { file: 'caffenet_tiny/deploy_v1.prototxt', type: 'NetParameter' },
  { file: 'caffenet_tiny/structure_v1_caffemodel_no_blobs.prototxt', type: 'NetParameter' },
  { file: 'caffenet_tiny/structure_v2_caffemodel_no_blobs.prototxt', type: 'NetParameter' },
  { file: 'bvlc_reference_caffenet/deploy.prototxt', type: 'NetParameter' },
  { file: 'bvlc_reference_caffenet/train_val.prototxt', type: 'NetParameter' },
  { file: 'bvlc_reference_caffenet/solver.prototxt', type: 'SolverParameter' },
] as const;
