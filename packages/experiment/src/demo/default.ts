import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Rng } from '@cnn/tensor';
import { DEFAULTS, resolveConfig, type ExperimentConfig } from '../config.js';
import { runExperiment, type ExperimentResult } from '../experiment.js';
import { encodeGrayPng, encodePng } from '../report/index.js';
import { defaultBase, type BaseModel } from '../transfer/base.js';
import { PHANTOM_CLASSES, renderPhantom, studyLook } from './phantoms.js';
import { pretrainSourceModel, SOURCE_CLASSES } from './source-task.js';

const STUDIES_PER_CLASS = 12;
const IMAGES_PER_STUDY = 5;

/** Options of the demo beyond the experiment's own. */
export interface DemoOptions {
  /** Instead of the ImageNet base, pretrain a mini CaffeNet on a synthetic source task inside the run. */
  pretrainMini?: boolean;
}

/**
 * The README's main job (`npm run experiment`), with no external files: generated
 * ultrasound-like phantoms, transferred from the default base (the shipped ImageNet
 * MobileNet, or the reference CaffeNet once fetched). With `pretrainMini`, the base is
 * instead a mini CaffeNet pretrained inside the run on a different synthetic task.
 */
export async function runDefaultExperiment(
  options: Partial<ExperimentConfig>,
  log: (line: string) => void = (line) => console.log(line),
  demo: DemoOptions = {},
): Promise<ExperimentResult> {
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<ExperimentConfig>;
  const out = resolve(given.out ?? DEFAULTS.out);
  // Generated inputs live with the cache, not in --out: the output folder holds one run's results only.
  const work = resolve(given.cacheDir ?? DEFAULTS.cacheDir);
  const data = writePhantomDataset(join(work, 'demo-data'), given.seed ?? 1);
  log(`demo data: ${data.count} phantom images of ${PHANTOM_CLASSES.length} classes in ${data.dir} (plus colour and corrupt files the run must leave out)`);
  const base = demo.pretrainMini ? pretrainMiniBase(work, given.seed ?? 1, log) : defaultBase();
  return runExperiment(
    resolveConfig({
      maxIter: 200,
      validationInterval: 10,
      baseLr: 0.01,
      stepsize: 150,
      // The baseline trains 10 times (once, then 3 draws at each of 3 learning-curve points):
      // 200 iterations of 32 images are still 40 epochs of the demo's training split.
      fromScratch: true,
      scratchIter: 200,
      learningCurve: '2,4,8,16,all',
      fineTuneFrom: base.lastBlock,
      fineTuneIter: 20,
      title: `SYNTHETIC DEMO: frozen-base transfer from ${base.name} to ultrasound-like phantoms`,
      ...given,
      data: data.dir,
      prototxt: base.prototxt,
      weights: base.weights,
      base: base.name,
      preset: base.preset,
      out,
      synthetic: true,
      readerLabels: data.readerLabels,
    }),
    log,
  );
}

/** The mini CaffeNet pretrained on synthetic shapes, saved as Caffe files in `work/demo-model`. */
function pretrainMiniBase(work: string, seed: number, log: (line: string) => void): BaseModel {
  const source = pretrainSourceModel(seed, 400);
  const modelDir = join(work, 'demo-model');
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(join(modelDir, 'deploy.prototxt'), source.prototxt);
  writeFileSync(join(modelDir, 'source.caffemodel'), source.caffemodel);
  log(`source task (${SOURCE_CLASSES.join(', ')}): ${source.iterations} iterations in ${source.seconds.toFixed(1)} s, accuracy ${(source.sourceAccuracy * 100).toFixed(0)}%; saved to ${modelDir}`);
  // Its 64 x 64 input is fed like MobileNet's: RGB, (x - 128) / 128, the whole image resized.
  return { name: 'a mini CaffeNet pretrained on synthetic shapes', prototxt: join(modelDir, 'deploy.prototxt'), weights: join(modelDir, 'source.caffemodel'), preset: 'mobilenet', lastBlock: 'conv3' };
}

/**
 * Writes the phantom dataset as class/study/image.png folders, plus three colour
 * Doppler-like images and one corrupt file (which the run must exclude and list),
 * and a simulated second reader's labels (right about 80% of the time).
 */
export function writePhantomDataset(dir: string, seed: number): { dir: string; count: number; readerLabels: string } {
  const rng = new Rng(seed * 7919 + 1);
  const reader = ['path,label'];
  let count = 0;
  PHANTOM_CLASSES.forEach((kind, k) => {
    for (let s = 0; s < STUDIES_PER_CLASS; s++) {
      const study = `study-${kind}-${String(s + 1).padStart(2, '0')}`;
      const look = studyLook(rng);
      mkdirSync(join(dir, kind, study), { recursive: true });
      for (let i = 0; i < IMAGES_PER_STUDY; i++) {
        const name = join(kind, study, `frame-${i + 1}.png`);
        writeFileSync(join(dir, name), encodeGrayPng(renderPhantom(kind, look, rng), 256, 256));
        const readerLabel = rng.bernoulli(0.8) ? kind : PHANTOM_CLASSES[(k + 1 + rng.int(PHANTOM_CLASSES.length - 1)) % PHANTOM_CLASSES.length]!;
        reader.push(`${name},${readerLabel}`);
        count++;
      }
    }
  });
  const doppler = join(dir, 'kidney', 'study-doppler');
  mkdirSync(doppler, { recursive: true });
  for (let i = 0; i < 3; i++) writeFileSync(join(doppler, `doppler-${i + 1}.png`), encodePng(dopplerOverlay(renderPhantom('kidney', studyLook(rng), rng)), 256, 256));
  writeFileSync(join(dir, 'liver', 'study-liver-01', 'truncated.png'), encodeGrayPng(renderPhantom('liver', studyLook(rng), rng), 256, 256).subarray(0, 300));
  const readerLabels = join(dir, '..', 'demo-reader-labels.csv');
  writeFileSync(readerLabels, `${reader.join('\n')}\n`);
  return { dir, count, readerLabels };
}

/** A gray phantom with a colour-flow box painted over it, as a Doppler image would have. */
function dopplerOverlay(gray: Uint8Array): Uint8Array {
  const rgba = new Uint8Array(256 * 256 * 4);
  for (let i = 0; i < gray.length; i++) {
    const y = Math.floor(i / 256);
    const x = i % 256;
    const flow = x > 100 && x < 150 && y > 110 && y < 160 && (x + y) % 7 < 4;
    rgba.set(flow ? [220, 30, (x * 3) % 255, 255] : [gray[i]!, gray[i]!, gray[i]!, 255], i * 4);
  }
  return rgba;
}
