import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@cnn/tensor';
import { ExperimentError } from '../errors.js';
import { encodeGrayPng } from '../report/index.js';

/** The shape of a generated archive. */
export interface ArchiveOptions {
  /** Images in all. */
  images: number;
  /** Images per study (the last study of a class may hold fewer). Default 8. */
  imagesPerStudy?: number;
  /** Number of classes, named class-0, class-1, ... Default 3. */
  classes?: number;
  /** Side of the square gray images. Default 64 (the size of the usanotai frames). */
  size?: number;
  seed?: number;
}

/**
 * Writes a synthetic image archive of any size, quickly, for scale tests and benchmarks
 * (`class-c/study-s/image-i.png`, so each subfolder is a study): what it measures is the
 * cost of the pipeline, not a diagnosis. Each class is a grating at its own angle; each
 * study draws its own phase, frequency and contrast, and each image adds its own noise,
 * so images of a study are correlated (as frames of one exam) and classes are learnable
 * but not trivially identical. Images go round-robin over the classes, so they stay balanced.
 *
 * @returns the folder and the number of studies
 */
export function writeSyntheticArchive(dir: string, options: ArchiveOptions): { dir: string; studies: number } {
  const perStudy = options.imagesPerStudy ?? 8;
  const classes = options.classes ?? 3;
  const size = options.size ?? 64;
  const rng = new Rng(options.seed ?? 1);
  const pixels = new Uint8Array(size * size);
  let studies = 0;
  for (let c = 0; c < classes; c++) {
    // Class c gets images c, c + classes, c + 2 classes, ...
    const count = Math.floor((options.images - c + classes - 1) / classes);
    for (let first = 0; first < count; first += perStudy) {
      const study = join(dir, `class-${c}`, `study-${String(studies++).padStart(6, '0')}`);
      mkdirSync(study, { recursive: true });
      const angle = (Math.PI * c) / classes + rng.uniform(-0.15, 0.15);
      const frequency = rng.uniform(0.15, 0.35);
      const phase = rng.uniform(0, 2 * Math.PI);
      const contrast = rng.uniform(40, 90);
      const [ux, uy] = [Math.cos(angle) * frequency, Math.sin(angle) * frequency];
      for (let i = 0; i < Math.min(perStudy, count - first); i++) {
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const value = 128 + contrast * Math.sin(ux * x + uy * y + phase) + rng.normal(0, 25);
            pixels[y * size + x] = Math.max(0, Math.min(255, Math.round(value)));
          }
        }
        writeFileSync(join(study, `image-${i}.png`), encodeGrayPng(pixels, size, size));
      }
    }
  }
  return { dir, studies };
}

/**
 * A MobileNet v1 deploy.prototxt (the shipped base's or the fixtures') at another input side,
 * written to `out`: the input dims become `side`, and the fixed 5 x 5 average pool at the end
 * becomes a global one, so the net takes any side. At 64 x 64 a forward costs a sixth of
 * 160 x 160 with the same weights and layers: the cheap real base of scale tests and benchmarks.
 */
export function writeMobileNetAtSide(prototxt: string, side: number, out: string): string {
  const text = readFileSync(prototxt, 'utf8');
  const input = /(input_shape\s*\{\s*dim:\s*\d+\s*dim:\s*3\s*)dim:\s*\d+(\s*)dim:\s*\d+/;
  const pool = /(pool:\s*AVE\s*)kernel_size:\s*\d+\s*stride:\s*1/;
  if (!input.test(text) || !pool.test(text)) {
    throw new ExperimentError(`${prototxt}: expected a MobileNet deploy.prototxt (input_shape 1 x 3 x S x S and an AVE pool of stride 1)`);
  }
  writeFileSync(out, text.replace(input, `$1dim: ${side}$2dim: ${side}`).replace(pool, '$1global_pooling: true'));
  return out;
}
