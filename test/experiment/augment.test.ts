import { loadModel } from '@cnn/caffe-import';
import { describe, expect, it } from 'vitest';
import { planTransfer } from '@cnn/experiment';
import { caffenetRecipe } from '@cnn/experiment/data';
import { extractFeatures } from '@cnn/experiment/transfer';
import { shared } from './paths.js';

describe('augmented features', () => {
  it('differ from the centre crop, repeat for the same variant, and differ between variants', async () => {
    const dir = shared('fixtures/caffe/caffenet_tiny');
    const model = loadModel({ prototxt: `${dir}/deploy.prototxt`, weights: `${dir}/caffenet_tiny_v1.caffemodel` });
    const plan = planTransfer(model.def, model.net, 2);
    const data = new Uint8Array(256 * 256).map((_, i) => ((i % 256) * 7 + Math.floor(i / 256) * 3) % 256);
    const images = [{ width: 256, height: 256, channels: 1 as const, data }];
    const recipe = caffenetRecipe();
    const augmented = { ...recipe, randomCrop: true, mirror: true };
    const centre = (await extractFeatures(model.net, plan, recipe, images, { quiet: true })).features.data;
    const first = (await extractFeatures(model.net, plan, augmented, images, { quiet: true, variant: 1 })).features.data;
    const again = (await extractFeatures(model.net, plan, augmented, images, { quiet: true, variant: 1 })).features.data;
    const second = (await extractFeatures(model.net, plan, augmented, images, { quiet: true, variant: 2 })).features.data;
    expect(again).toEqual(first);
    expect(first).not.toEqual(centre);
    expect(second).not.toEqual(first);
  });
});
