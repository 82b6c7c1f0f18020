import type { InputRecipe } from '../src/data/recipe.js';
import { startEngine, token, type Engine } from './client.js';
import type { Classified, ModelFiles, OpenedModel, RgbImage } from './messages.js';

/*
 * /classify: a model in the page. The one `cnn serve --model DIR` names opens by itself; any
 * prototxt + caffemodel pair chosen from disk opens too, the importer's errors shown as they
 * come. Chosen or dropped images are decoded by the browser and classified by the library.
 */

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

/** What GET /api/model answers. */
interface ServedModel {
  name: string;
  classes: string[];
  recipe: Omit<InputRecipe, 'mean'> & { mean: { values: number[] } | { image: number[]; channels: number; height: number; width: number } };
}

function showModelError(error: unknown): void {
  $('model-error').textContent = `${(error as Error).name}: ${(error as Error).message}`;
  $('model-status').textContent = 'no model open';
}

async function open(engine: Engine, files: ModelFiles, label: string): Promise<void> {
  $('model-error').textContent = '';
  $('model-status').textContent = `opening ${label}...`;
  const opened = await engine.request<OpenedModel>({ type: 'open-model', files }, [files.weights]);
  $('model-status').textContent =
    `${label}: ${opened.layers} layers, input [${opened.input.join(', ')}]` +
    `${opened.classes === null ? ', no class names' : `, ${opened.classes} classes`}, opened in ${opened.milliseconds.toFixed(0)} ms`;
  document.body.dataset.model = 'open';
}

/** The model of `--model DIR`, if the server has one. */
async function openServed(engine: Engine): Promise<void> {
  const headers = { 'X-Serve-Token': token() };
  const answer = await fetch('/api/model', { headers });
  if (answer.status === 404) {
    $('model-status').textContent = 'no --model given: open a prototxt and a caffemodel below';
    return;
  }
  if (!answer.ok) throw new Error(((await answer.json()) as { error: string }).error);
  const served = (await answer.json()) as ServedModel;
  const [prototxt, weights] = await Promise.all([
    fetch('/api/model/prototxt', { headers }).then((r) => r.text()),
    fetch('/api/model/weights', { headers }).then((r) => r.arrayBuffer()),
  ]);
  const { mean } = served.recipe;
  const recipe: InputRecipe = { ...served.recipe, mean: 'values' in mean ? mean : { ...mean, image: Float32Array.from(mean.image) } };
  await open(engine, { prototxt, prototxtName: 'deploy.prototxt', weights, weightsName: 'retrained.caffemodel', classes: served.classes, recipe, preset: 'caffenet' }, served.name);
}

/**
 * The pair chosen from disk (a .prototxt, a .caffemodel, and optionally a .txt of class names),
 * with the preset picked beside it. The file input is made on demand, so the page's one
 * `input[type=file]` is the images'.
 */
function chooseModelFiles(engine: Engine): void {
  const input = document.createElement('input');
  input.type = 'file';
  input.multiple = true;
  input.accept = '.prototxt,.caffemodel,.txt';
  input.onchange = () => void openChosen(engine, [...(input.files ?? [])]).catch(showModelError);
  input.click();
}

async function openChosen(engine: Engine, files: readonly File[]): Promise<void> {
  const named = (ending: string): File | undefined => files.find((file) => file.name.toLowerCase().endsWith(ending));
  const prototxt = named('.prototxt');
  const weights = named('.caffemodel');
  if (!prototxt || !weights) throw new Error(`choose a .prototxt and a .caffemodel together (got: ${files.map((file) => file.name).join(', ')})`);
  const labels = named('.txt');
  const classes = labels ? (await labels.text()).split(/\r?\n/).map((line) => line.trim()) : null;
  while (classes && classes.length > 0 && classes.at(-1) === '') classes.pop();
  const preset = $<HTMLSelectElement>('preset').value === 'mobilenet' ? 'mobilenet' : 'caffenet';
  await open(engine, { prototxt: await prototxt.text(), prototxtName: prototxt.name, weights: await weights.arrayBuffer(), weightsName: weights.name, classes, recipe: null, preset }, `${prototxt.name} + ${weights.name}`);
}

/**
 * The file's pixels as RGB, decoded by the browser without colour management (PNG and JPEG
 * samples as stored; 16-bit PNG samples arrive rounded to 8 bits).
 */
async function decode(file: File): Promise<RgbImage & { bitmap: ImageBitmap }> {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d')!;
  context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const data = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let p = 0; p < bitmap.width * bitmap.height; p++) {
    data[3 * p] = rgba[4 * p]!;
    data[3 * p + 1] = rgba[4 * p + 1]!;
    data[3 * p + 2] = rgba[4 * p + 2]!;
  }
  return { width: bitmap.width, height: bitmap.height, data, bitmap };
}

async function classify(engine: Engine, files: readonly File[]): Promise<void> {
  const list = $('results');
  for (const file of files) {
    const card = document.createElement('div');
    card.className = 'result';
    list.prepend(card);
    const title = card.appendChild(document.createElement('h3'));
    title.textContent = file.name;
    try {
      const image = await decode(file);
      const canvas = card.appendChild(document.createElement('canvas'));
      const scale = Math.min(1, 224 / Math.max(image.width, image.height));
      canvas.width = Math.round(image.width * scale);
      canvas.height = Math.round(image.height * scale);
      canvas.getContext('2d')!.drawImage(image.bitmap, 0, 0, canvas.width, canvas.height);
      const { bitmap: _, ...pixels } = image;
      const result = await engine.request<Classified>({ type: 'classify', image: pixels }, [pixels.data.buffer]);
      const ranks = card.appendChild(document.createElement('ol'));
      for (const score of result.top) {
        const item = ranks.appendChild(document.createElement('li'));
        const bar = item.appendChild(document.createElement('span'));
        bar.className = 'bar';
        bar.style.width = `${(100 * score.probability).toFixed(1)}%`;
        item.append(`${score.label ?? `class ${score.index}`}  ${score.probability.toFixed(4)}`);
      }
      const { saliency } = result;
      const heat = card.appendChild(document.createElement('canvas'));
      heat.className = 'saliency';
      heat.width = saliency.width;
      heat.height = saliency.height;
      heat.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(saliency.rgba), saliency.width, saliency.height), 0, 0);
      heat.title = `Grad-CAM of the top class at ${saliency.layer}, over the image as the net saw it`;
      card.appendChild(document.createElement('p')).textContent = `forward in ${result.milliseconds.toFixed(0)} ms; Grad-CAM at ${saliency.layer}`;
      const best = result.top[0]!;
      $('top1').textContent = best.label ?? `class ${best.index}`;
      $('top1-probability').textContent = best.probability.toFixed(4);
    } catch (error) {
      card.appendChild(document.createElement('p')).textContent = `${(error as Error).name}: ${(error as Error).message}`;
      card.classList.add('error');
    }
  }
  document.body.dataset.classified = String(Number(document.body.dataset.classified ?? 0) + files.length);
}

async function main(): Promise<void> {
  const { engine } = await startEngine();
  const input = $<HTMLInputElement>('image');
  input.onchange = () => void classify(engine, [...(input.files ?? [])]);
  const drop = $('drop');
  drop.ondragover = (event) => event.preventDefault();
  drop.ondrop = (event) => {
    event.preventDefault();
    void classify(engine, [...(event.dataTransfer?.files ?? [])]);
  };
  $('open-disk').onclick = () => chooseModelFiles(engine);
  await openServed(engine).catch(showModelError);
}

main().catch(showModelError);
