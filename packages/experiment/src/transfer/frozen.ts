import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel, type LoadedModel } from '@cnn/caffe-import';
import { recipeFromFlags } from '../commands/input.js';
import type { ExperimentConfig } from '../config.js';
import { netInputSize, type InputRecipe } from '../data/index.js';
import { ExperimentError } from '../errors.js';
import { sha1, type FeatureCache } from './features.js';
import { planTransfer, type TransferPlan } from './plan.js';

/**
 * The pretrained model cut at its frozen base, with everything that decides what its
 * features are: the input recipe, the cut, and the cache they are stored under. `cnn
 * experiment` and `cnn features` both build it here from the same settings, so a shard
 * run on another machine fills exactly the cache entries the experiment will look for.
 */
export interface FrozenBase {
  model: LoadedModel;
  recipe: InputRecipe;
  plan: TransferPlan;
  /** The feature cache of this model, recipe and cut. */
  cache: FeatureCache;
  /** The mirror image's recipe and its own cache entries (the second view, config.mirrorViews). */
  mirror: { recipe: InputRecipe; cache: FeatureCache };
}

/** The settings that define the features: the model files, the recipe flags, the cut and the cache folder. */
export type FrozenBaseSettings = Pick<
  ExperimentConfig,
  'prototxt' | 'weights' | 'preset' | 'mean' | 'meanValues' | 'scale' | 'channelOrder' | 'resize' | 'crop' | 'freezeUntil' | 'cacheDir'
>;

/**
 * Loads the model, checks the recipe against its input, and plans the cut for `numClasses`
 * classes. Every layer the experiment keeps must have weights in the file; only the classifier,
 * which it replaces, may lack them.
 */
export function loadFrozenBase(settings: FrozenBaseSettings, numClasses: number): FrozenBase {
  const model = loadModel({ prototxt: settings.prototxt, weights: settings.weights, allowMissingWeights: true });
  const recipe = inputRecipe(settings, model.net.blob(model.net.inputNames[0]!).shape);
  const plan = planTransfer(model.def, model.net, numClasses, settings.freezeUntil);
  // Only the classifier, replaced anyway, may lack weights (a fine-tuning prototxt renames it).
  const unweighted = model.weights.initialised.filter((layer) => layer !== plan.classifier);
  if (unweighted.length > 0) {
    throw new ExperimentError(`${settings.weights}: holds no weights for ${unweighted.join(', ')}, which the experiment keeps from the model: a file cut short, or the weights of another net`);
  }
  const dir = resolve(settings.cacheDir);
  const mirrorRecipe: InputRecipe = { ...recipe, flip: true };
  return {
    model,
    recipe,
    plan,
    cache: { dir, modelKey: featureKey(settings, recipe, plan.cutLayer) },
    mirror: { recipe: mirrorRecipe, cache: { dir, modelKey: featureKey(settings, mirrorRecipe, plan.cutLayer) } },
  };
}

/**
 * The cache key of features made with `recipe` (the run's, or its augmentation's):
 * sha1 of the weights' sha1, the prototxt text, the recipe and the cut layer.
 */
export function featureKey(settings: Pick<FrozenBaseSettings, 'prototxt' | 'weights'>, recipe: InputRecipe, cutLayer: string): string {
  return sha1([sha1(readFileSync(settings.weights)), readFileSync(settings.prototxt, 'utf8'), JSON.stringify(recipeKey(recipe)), cutLayer].join('\n'));
}

/** The recipe as plain JSON, a mean image replaced by its sha1 (for keys and the report). */
export function recipeKey(recipe: InputRecipe): unknown {
  const { mean, ...rest } = recipe;
  return { ...rest, mean: 'values' in mean ? mean.values : sha1(new Uint8Array(mean.image.buffer, mean.image.byteOffset, mean.image.byteLength)) };
}

/** The preset's recipe with the parts the settings give, checked against the model's input blob [N, C, H, W]. */
function inputRecipe(settings: FrozenBaseSettings, inputShape: readonly number[]): InputRecipe {
  const recipe = recipeFromFlags(
    { preset: settings.preset, meanFile: settings.mean, meanValues: settings.meanValues, scale: settings.scale, channelOrder: settings.channelOrder, resize: settings.resize, crop: settings.crop },
    { name: 'data', shape: inputShape },
  );
  const size = netInputSize(recipe);
  if (inputShape.length !== 4 || inputShape[1] !== 3 || inputShape[2] !== size || inputShape[3] !== size) {
    throw new ExperimentError(
      `the model's input is [${inputShape.join(',')}], but the '${settings.preset}' preset makes 3 x ${size} x ${size} images: ` +
        `choose the preset that fits the model (--preset caffenet for 227 x 227 CaffeNet, mobilenet for MobileNet) or set --resize/--crop`,
    );
  }
  return recipe;
}
