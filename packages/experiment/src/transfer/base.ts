import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPrototxt, toNetParameter } from '@cnn/caffe-import';
import { caffeNet } from '@cnn/nn';
import { ExperimentError } from '../errors.js';

/** A pretrained model to transfer from: its files, the input recipe it expects, and a name for the report. */
export interface BaseModel {
  /** How the console and the report name it. */
  name: string;
  prototxt: string;
  weights: string;
  preset: 'caffenet' | 'mobilenet';
  /** The first layer of its last convolutional block: where the demo's fine-tuning starts. */
  lastBlock: string;
}

/** Where `npx cnn fetch-model caffenet` puts the reference CaffeNet (relative to the working folder). */
export const CAFFENET_DIR = 'models/bvlc_reference_caffenet';
export const CAFFENET_WEIGHTS = `${CAFFENET_DIR}/bvlc_reference_caffenet.caffemodel`;

/**
 * The ImageNet base the repository ships (models/ at the repository root, found from this file,
 * so it resolves from the sources and from dist/ alike): Google's MobileNet v1 0.75 at 192 x 192,
 * in Caffe format. Its README gives provenance, licence and why this width and size.
 */
export const SHIPPED_BASE_DIR = fileURLToPath(new URL('../../../../models/mobilenet_v1_0.75_192/', import.meta.url));
export const SHIPPED_BASE: BaseModel = {
  name: 'MobileNet v1 0.75 192 (ImageNet)',
  prototxt: join(SHIPPED_BASE_DIR, 'deploy.prototxt'),
  weights: join(SHIPPED_BASE_DIR, 'mobilenet_v1_0.75_192.caffemodel'),
  preset: 'mobilenet',
  lastBlock: 'conv6/dw',
};

/**
 * The base a run uses when none is given: the reference CaffeNet once
 * `npx cnn fetch-model caffenet` has fetched it (its deploy.prototxt written beside the
 * weights from the nn builder, as the model zoo ships it), else the shipped MobileNet.
 */
export function defaultBase(): BaseModel {
  if (existsSync(CAFFENET_WEIGHTS)) {
    const prototxt = join(CAFFENET_DIR, 'deploy.prototxt');
    if (!existsSync(prototxt)) writeFileSync(prototxt, caffeNetDeployPrototxt());
    return { name: 'BVLC reference CaffeNet (ImageNet)', prototxt, weights: CAFFENET_WEIGHTS, preset: 'caffenet', lastBlock: 'conv5' };
  }
  if (!existsSync(SHIPPED_BASE.weights) || !existsSync(SHIPPED_BASE.prototxt)) {
    throw new ExperimentError(`the shipped base is missing from ${SHIPPED_BASE_DIR} (a checkout without models/?): give --prototxt and --weights`);
  }
  return SHIPPED_BASE;
}

/** CaffeNet's deploy.prototxt, from the nn builder. */
function caffeNetDeployPrototxt(): string {
  const { layer, ...rest } = toNetParameter(caffeNet({ batch: 1 }));
  return formatPrototxt({ ...rest, layer });
}
