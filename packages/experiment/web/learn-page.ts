import { startEngine } from './client.js';
import { drawCurve, drawPlane, drawPlanes } from './draw.js';
import type { ConvolutionSteps, EngineEvent, LearnProgress } from './messages.js';

/*
 * /learn: a convolution stepped through by hand, then a small CNN training live. Every number
 * shown is one the engine worker got from the library.
 */

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Training iterations of one run. */
const ITERATIONS = 600;

const losses: number[] = [];
const accuracies: number[] = [];

function onEvent(event: EngineEvent): void {
  if (event.type === 'learn-progress') showProgress(event.progress);
}

function showProgress(progress: LearnProgress): void {
  losses.push(...progress.losses);
  accuracies.push(...progress.accuracies);
  // The loss of the iterations since the last report, averaged: one batch's loss alone jumps about.
  $('loss-value').textContent = (progress.losses.reduce((a, b) => a + b, 0) / progress.losses.length).toFixed(4);
  $('accuracy-value').textContent = `${(100 * progress.accuracies.at(-1)!).toFixed(0)}%`;
  $('iter').textContent = `${progress.iter} / ${ITERATIONS}`;
  $('speed').textContent = `${progress.millisecondsPerIteration.toFixed(1)} ms per iteration`;
  drawCurve($('loss-chart'), smooth(losses), '#ff9f43');
  drawCurve($('accuracy-chart'), smooth(accuracies), '#3ecf8e', [0, 1]);
  drawPlanes($('filters'), progress.filters, 10, true);
  drawPlane($('example'), progress.example.image, 6, false);
  $('example-probabilities').textContent = progress.classes
    .map((name, i) => `${name}${i === progress.example.label ? ' (true)' : ''}: ${progress.example.probabilities[i]!.toFixed(3)}`)
    .join('   ');
  renderLayers($('activations'), progress.activations.map(({ layer, planes }) => ({ title: layer, planes })), false);
  renderLayers($('gradients'), progress.gradients.map(({ blob, planes }) => ({ title: `d loss / d ${blob}`, planes })), true);
  document.body.dataset.iter = String(progress.iter);
}

/** A running mean over 10 iterations, so the curve shows the trend through batch noise. */
function smooth(values: readonly number[]): number[] {
  return values.map((_, i) => {
    const window = values.slice(Math.max(0, i - 9), i + 1);
    return window.reduce((a, b) => a + b, 0) / window.length;
  });
}

function renderLayers(container: HTMLElement, layers: { title: string; planes: LearnProgress['filters'] }[], diverging: boolean): void {
  layers.forEach(({ title, planes }, i) => {
    let block = container.children[i] as HTMLElement | undefined;
    if (!block) {
      block = container.appendChild(document.createElement('div'));
      block.className = 'layer';
      block.append(document.createElement('h4'), document.createElement('div'));
    }
    block.firstElementChild!.textContent = title;
    const side = Math.max(...planes.map((p) => Math.max(p.width, p.height)));
    drawPlanes(block.lastElementChild as HTMLElement, planes, Math.max(2, Math.floor(72 / side)), diverging);
  });
}

/** The walkthrough's table of numbers, the window under the filter marked. */
function renderConvolution(steps: ConvolutionSteps, position: number): void {
  const outW = steps.output[0]!.length;
  const oy = Math.floor(position / outW);
  const ox = position % outW;
  const table = $('patch');
  table.replaceChildren(
    ...steps.patch.map((row, y) => {
      const tr = document.createElement('tr');
      row.forEach((v, x) => {
        const td = tr.insertCell();
        td.textContent = String(v);
        if (y >= oy && y < oy + 3 && x >= ox && x < ox + 3) td.className = 'window';
      });
      return tr;
    }),
  );
  const window = steps.windows[position]!;
  const weights = steps.filter.flat();
  // The products as terms (weight × pixel under it); the sum is the layer's output, not added up here.
  const terms = window.map((pixel, k) => `(${weights[k]} × ${pixel})`);
  $('products').textContent = `${terms.slice(0, 3).join(' + ')}\n+ ${terms.slice(3, 6).join(' + ')}\n+ ${terms.slice(6).join(' + ')}\n= ${steps.output[oy]![ox]}`;
  $('position').textContent = `output (${oy}, ${ox}) of ${steps.output.length} × ${outW}`;
  const out = $('output');
  out.replaceChildren(
    ...steps.output.map((row, y) => {
      const tr = document.createElement('tr');
      row.forEach((v, x) => {
        const td = tr.insertCell();
        const done = y * outW + x <= position;
        td.textContent = done ? String(v) : '';
        if (y === oy && x === ox) td.className = 'window';
      });
      return tr;
    }),
  );
}

async function main(): Promise<void> {
  const { engine } = await startEngine(onEvent);
  const steps = await engine.request<ConvolutionSteps>({ type: 'convolution' });
  const count = steps.output.length * steps.output[0]!.length;
  const slider = $<HTMLInputElement>('step');
  slider.max = String(count - 1);
  slider.oninput = () => renderConvolution(steps, Number(slider.value));
  $('next').onclick = () => {
    slider.value = String((Number(slider.value) + 1) % count);
    renderConvolution(steps, Number(slider.value));
  };
  $('filter').textContent = steps.filter.map((row) => row.map((v) => String(v).padStart(3)).join(' ')).join('\n');
  renderConvolution(steps, 0);

  const train = async (): Promise<void> => {
    $<HTMLButtonElement>('restart').disabled = true;
    losses.length = 0;
    accuracies.length = 0;
    document.body.dataset.training = 'true';
    try {
      await engine.request({ type: 'learn', seed: Number($<HTMLInputElement>('seed').value) || 1, iterations: ITERATIONS });
    } catch (error) {
      $('learn-error').textContent = `${(error as Error).name}: ${(error as Error).message}`;
    }
    document.body.dataset.training = 'false';
    $<HTMLButtonElement>('restart').disabled = false;
  };
  $('restart').onclick = () => void train();
  await train();
}

main().catch((error: unknown) => {
  $('learn-error').textContent = `${(error as Error).name}: ${(error as Error).message}`;
});
