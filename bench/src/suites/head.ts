import { Net, Solver, type LayerDef, type NetDef } from '@cnn/nn';
import { Rng, getBackend, getThreads, setBackend, simdSupported, type BackendName } from '@cnn/tensor';
import { measure } from '../measure.js';
import { markdownTable, writeSection } from '../results.js';

/**
 * The transfer experiment's head: fc6-fc8 of CaffeNet trained on cached pool5
 * features (256 x 6 x 6), batch 256, 11 classes, one SGD step = forward + backward + update.
 */
function headNet(batch: number, classes: number): NetDef {
  const fc = (name: string, bottom: string, numOutput: number): LayerDef => ({
    name,
    type: 'InnerProduct',
    bottom: [bottom],
    top: [name],
    param: [{ lrMult: 1, decayMult: 1 }, { lrMult: 2, decayMult: 0 }],
    innerProduct: { numOutput, weightFiller: { type: 'gaussian', std: 0.005 }, biasFiller: { type: 'constant', value: 1 } },
  });
  return {
    name: 'caffenet-head',
    layers: [
      { name: 'features', type: 'Input', top: ['pool5', 'label'], input: { shape: [{ dim: [batch, 256, 6, 6] }, { dim: [batch] }] } },
      fc('fc6', 'pool5', 4096),
      { name: 'relu6', type: 'ReLU', bottom: ['fc6'], top: ['fc6'] },
      { name: 'drop6', type: 'Dropout', bottom: ['fc6'], top: ['fc6'], dropout: { dropoutRatio: 0.5 } },
      fc('fc7', 'fc6', 4096),
      { name: 'relu7', type: 'ReLU', bottom: ['fc7'], top: ['fc7'] },
      { name: 'drop7', type: 'Dropout', bottom: ['fc7'], top: ['fc7'], dropout: { dropoutRatio: 0.5 } },
      fc('fc8', 'fc7', classes),
      { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['fc8', 'label'], top: ['loss'] },
    ],
  };
}

export async function headSuite(): Promise<void> {
  const batch = 256;
  const initial = getBackend().name;
  const rows: string[][] = [];
  const backends: BackendName[] = simdSupported() ? ['js', 'wasm'] : ['js'];
  for (const backend of backends) {
    setBackend(backend);
    const net = new Net(headNet(batch, 11), { phase: 'TRAIN', seed: 1 });
    const rng = new Rng(4);
    const features = net.blob('pool5').data.data;
    for (let i = 0; i < net.blob('pool5').count; i++) features[i] = Math.max(0, rng.normal(0, 2));
    const labels = net.blob('label').data.data;
    for (let i = 0; i < batch; i++) labels[i] = rng.int(11);
    const solver = new Solver(net, { baseLr: 0.001, momentum: 0.9, weightDecay: 5e-4, lrPolicy: 'step', gamma: 0.1, stepsize: 1000 });
    const result = measure(`head training step ${backend}, batch 256`, () => solver.step(1), { minSamples: 2, maxTime: 0.5 });
    const iterationsPerSecond = 1 / result.seconds;
    console.log(`  ${result.name.padEnd(40)} ${iterationsPerSecond.toFixed(3)} iterations/s`);
    rows.push([backend, String(getThreads()), iterationsPerSecond.toFixed(3), (batch * iterationsPerSecond).toFixed(1), `${(result.seconds * 1000).toFixed(0)} ms`]);
  }
  setBackend(initial);
  const table = markdownTable(['backend', 'threads', 'iterations/s', 'images/s', 'time per iteration'], rows);
  console.log(`\n${table}\n`);
  writeSection('head', 'Head training: fc6-fc8 SGD step on cached pool5 features, batch 256, 11 classes (forward + backward + update)', table);
}
