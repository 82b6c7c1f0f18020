import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadModel, toNetParameter, writeCaffemodelFile } from '@cnn/caffe-import';
import { ExperimentError, resolveConfig, runExperiment } from '@cnn/experiment';
import { shared } from './paths.js';

const quiet = (): void => undefined;
const TINY = () => shared('fixtures/caffe/caffenet_tiny');

/** Two class folders of three small gray PNGs each. */
function imageFolder(dir: string): string {
  const data = join(dir, 'data');
  ['a', 'b'].forEach((name, k) => {
    mkdirSync(join(data, name), { recursive: true });
    for (let i = 0; i < 3; i++) {
      const png = new PNG({ width: 32, height: 32 });
      for (let p = 0; p < 32 * 32; p++) {
        const v = ((p % 32) >> (k + 1)) % 2 ? 200 : 40 + i;
        png.data.set([v, v, v, 255], p * 4);
      }
      writeFileSync(join(data, name, `img-${i}.png`), PNG.sync.write(png));
    }
  });
  return data;
}

function run(dir: string, prototxt: string, weights: string) {
  return runExperiment(
    resolveConfig({ data: imageFolder(dir), prototxt, weights, preset: 'caffenet', out: join(dir, 'out'), maxIter: 2, quiet: true, cacheDir: join(dir, 'cache'), split: { train: 0.5, val: 0, test: 0.5 } }),
    quiet,
  );
}

describe('the experiment and the weights of its model', () => {
  it('runs a fine-tuning prototxt whose classifier is renamed, so has no weights in the file (it is replaced anyway)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnn-finetune-'));
    const prototxt = join(dir, 'finetune.prototxt');
    writeFileSync(prototxt, readFileSync(join(TINY(), 'deploy.prototxt'), 'utf8').replaceAll('"fc8"', '"fc8_ft"'));
    const { report } = await run(dir, prototxt, join(TINY(), 'caffenet_tiny_v2.caffemodel'));
    expect(report.config.classifier).toBe('fc8_ft -> fc8_ft_new');
  }, 120_000);

  it('refuses weights that lack a layer it keeps (fc7), naming it, instead of training from its filler', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnn-nofc7-'));
    const prototxt = join(TINY(), 'deploy.prototxt');
    const model = loadModel({ prototxt, weights: join(TINY(), 'caffenet_tiny_v2.caffemodel') });
    const weights = join(dir, 'no-fc7.caffemodel');
    writeCaffemodelFile(weights, toNetParameter(model.def, (layer) => (layer === 'fc7' ? undefined : model.net.layer(layer).params)));
    const refused = run(dir, prototxt, weights);
    await expect(refused).rejects.toThrow(ExperimentError);
    await expect(refused).rejects.toThrow(`${weights}: holds no weights for fc7, which the experiment keeps from the model`);
  }, 120_000);
});
