import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '@cnn/caffe-import';
import { ExperimentError, resolveConfig, runExperiment, type Report } from '@cnn/experiment';
import { mobilenet, shared } from './paths.js';

const quiet = (): void => undefined;

function tinyCaffeNet(): { prototxt: string; weights: string } {
  const dir = shared('fixtures/caffe/caffenet_tiny');
  return { prototxt: `${dir}/deploy.prototxt`, weights: `${dir}/caffenet_tiny_v1.caffemodel` };
}

/** A folder of class subfolders with `perClass` small gray PNGs each (stripes of a class-specific period). */
function imageFolder(classes: string[], perClass: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'cnn-images-'));
  classes.forEach((name, k) => {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const png = new PNG({ width: 32, height: 32 });
      for (let p = 0; p < 32 * 32; p++) {
        const v = ((p % 32) >> (k + 1)) % 2 ? 200 : 40 + i;
        png.data.set([v, v, v, 255], p * 4);
      }
      writeFileSync(join(dir, name, `img-${i}.png`), PNG.sync.write(png));
    }
  });
  return dir;
}

describe('the CaffeNet configuration on a CaffeNet-shaped model', () => {
  it('runs end to end on caffenet_tiny (227 crop, BGR, mean values): cut at pool5, fc8 replaced, model exported and reloadable', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cnn-tiny-'));
    const { report } = await runExperiment(
      resolveConfig({ data: shared('data/usanotai/manifest.csv'), ...tinyCaffeNet(), preset: 'caffenet', out, maxIter: 20, validationInterval: 10, quiet: true, cacheDir: join(out, 'cache') }),
      quiet,
    );
    expect(report.config.cut_layer).toBe('pool5');
    expect(report.config.classifier).toBe('fc8 -> fc8_new');
    expect(report.config.feature_shape).toEqual([32, 6, 6]);
    expect(report.training.iterations).toBe(20);
    // The tiny net's weights are random, not pretrained: this checks the path, not the accuracy.
    expect(report.training.loss.every(Number.isFinite)).toBe(true);
    expect(report.test.count).toBe(report.dataset.counts.test.images);
    // The exported model is a real Caffe model again: it loads and classifies into the 6 classes.
    const exported = loadModel({ prototxt: join(out, 'deploy.prototxt'), weights: join(out, 'retrained.caffemodel') });
    expect(exported.net.blob('prob').shape).toEqual([1, 6]);
    expect(exported.weights.initialised).toEqual([]);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(Object.keys(json.timing)).toEqual(expect.arrayContaining(['features_per_second', 'total_seconds']));
  }, 120_000);

  it('reuses cached features on a second run and reports none computed', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cnn-cache-'));
    const config = resolveConfig({ data: imageFolder(['a', 'b'], 6), ...mobilenet(), preset: 'mobilenet', out, maxIter: 5, quiet: true, cacheDir: join(out, 'cache'), split: { train: 0.5, val: 0, test: 0.5 } });
    const first = await runExperiment(config, quiet);
    const second = await runExperiment({ ...config, force: true }, quiet);
    expect(first.report.timing.features_computed).toBe(12);
    expect(second.report.timing.features_computed).toBe(0);
    expect(second.report.timing.features_per_second).toBeCloseTo(first.report.timing.features_per_second, 6);
    expect(second.report.test.accuracy).toBe(first.report.test.accuracy);
  }, 120_000);
});

describe('the input recipe', () => {
  it('takes each part over the preset from the config: channel order, mean values, scale', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cnn-recipe-'));
    const config = resolveConfig({
      data: imageFolder(['a', 'b'], 4), ...mobilenet(), preset: 'mobilenet', out, maxIter: 2, quiet: true, cacheDir: join(out, 'cache'),
      split: { train: 0.5, val: 0, test: 0.5 }, channelOrder: 'BGR', meanValues: '100,110,120', scale: 0.01,
    });
    const { report } = await runExperiment(config, quiet);
    expect(report.config.recipe).toMatchObject({ channelOrder: 'BGR', mean: [100, 110, 120], scale: 0.01, resizeTo: 160 });
  }, 60_000);
});

describe('training augmentation', () => {
  it('adds random-crop/mirror versions of the training images as extra rows, cached like the others', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cnn-augment-'));
    const config = resolveConfig({
      data: imageFolder(['a', 'b'], 6), ...tinyCaffeNet(), preset: 'caffenet', out, maxIter: 3, quiet: true, cacheDir: join(out, 'cache'),
      split: { train: 0.5, val: 0, test: 0.5 }, augment: 2, mirrorViews: false,
    });
    const first = await runExperiment(config, quiet);
    const trainImages = first.report.dataset.counts.train.images;
    expect(first.report.config.training_rows).toBe(3 * trainImages);
    expect(first.report.timing.augmented_features_computed).toBe(2 * trainImages);
    const second = await runExperiment({ ...config, force: true }, quiet);
    expect(second.report.timing.augmented_features_computed).toBe(0);
    expect(second.report.training.loss).toEqual(first.report.training.loss);
  }, 120_000);
});

describe('bad input gets a clear message', () => {
  it('an output folder that cannot be written fails before any work', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'cnn-ro-'));
    chmodSync(parent, 0o500);
    const config = resolveConfig({ data: imageFolder(['a', 'b'], 2), ...mobilenet(), preset: 'mobilenet', out: join(parent, 'out'), quiet: true });
    // root ignores permission bits: a file where the folder should be fails for everyone.
    const blocked = join(mkdtempSync(join(tmpdir(), 'cnn-file-')), 'report');
    writeFileSync(blocked, 'not a folder');
    await expect(runExperiment({ ...config, out: blocked }, quiet)).rejects.toThrow(/--out .*report: cannot write there/);
  });

  it('a model whose input does not fit the preset is named with both sizes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cnn-fit-'));
    const config = resolveConfig({ data: imageFolder(['a', 'b'], 4), ...mobilenet(), preset: 'caffenet', out, quiet: true });
    await expect(runExperiment(config, quiet)).rejects.toThrow(/model's input is \[1,3,160,160\], but the 'caffenet' preset makes 3 x 227 x 227 images/);
  });

  it('a single class, and a class folder with no images, are refused with their names', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cnn-one-'));
    await expect(runExperiment(resolveConfig({ data: imageFolder(['only'], 4), ...mobilenet(), preset: 'mobilenet', out, quiet: true }), quiet)).rejects.toThrow(/only one class|single class|1 class/i);
    const data = imageFolder(['a', 'b'], 4);
    mkdirSync(join(data, 'empty'));
    await expect(runExperiment(resolveConfig({ data, ...mobilenet(), preset: 'mobilenet', out, quiet: true }), quiet)).rejects.toThrow(/empty/);
  });

  it('missing required settings and unknown config keys are named', () => {
    expect(() => resolveConfig({ prototxt: 'p', weights: 'w' })).toThrow(/missing --data/);
    const file = join(mkdtempSync(join(tmpdir(), 'cnn-config-')), 'experiment.json');
    writeFileSync(file, JSON.stringify({ data: 'd', prototxt: 'p', weights: 'w', batchSise: 3 }));
    expect(() => resolveConfig({}, file)).toThrow(ExperimentError);
    expect(() => resolveConfig({}, file)).toThrow(/unknown setting\(s\) batchSise/);
  });
});
