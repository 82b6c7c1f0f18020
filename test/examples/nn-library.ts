import { Net, Solver, type NetDef } from '@cnn/nn';

// A tiny convolutional classifier for 1 x 8 x 8 images: is the bright bar vertical or horizontal?
const definition: NetDef = {
  name: 'bars',
  layers: [
    { name: 'data', type: 'Input', top: ['image', 'label'], input: { shape: [{ dim: [16, 1, 8, 8] }, { dim: [16] }] } },
    { name: 'conv', type: 'Convolution', bottom: ['image'], top: ['conv'], convolution: { numOutput: 4, kernelSize: 3, weightFiller: { type: 'xavier' } } },
    { name: 'relu', type: 'ReLU', bottom: ['conv'], top: ['conv'] },
    { name: 'pool', type: 'Pooling', bottom: ['conv'], top: ['pool'], pooling: { pool: 'MAX', kernelSize: 2, stride: 2 } },
    { name: 'score', type: 'InnerProduct', bottom: ['pool'], top: ['score'], innerProduct: { numOutput: 2, weightFiller: { type: 'xavier' } } },
    { name: 'loss', type: 'SoftmaxWithLoss', bottom: ['score', 'label'], top: ['loss'] },
  ],
};

/** Draws a batch: label 0 = a vertical bar, 1 = a horizontal bar, at a random position. */
function batch(net: Net, seed: number): void {
  const images = net.blob('image').data.data;
  const labels = net.blob('label').data.data;
  images.fill(0);
  for (let n = 0; n < 16; n++) {
    const horizontal = (n + seed) % 2;
    const at = (n * 5 + seed * 3) % 8;
    for (let i = 0; i < 8; i++) images[n * 64 + (horizontal ? at * 8 + i : i * 8 + at)] = 1;
    labels[n] = horizontal;
  }
}

const net = new Net(definition, { phase: 'TRAIN', seed: 1 });
const solver = new Solver(net, { baseLr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
for (let step = 0; step < 30; step++) {
  batch(net, step);
  solver.step(1);
}

// Predict on fresh bars: the highest score is the class.
batch(net, 1000);
net.forward();
const scores = net.blob('score').data.data;
const labels = net.blob('label').data.data;
let correct = 0;
for (let n = 0; n < 16; n++) if ((scores[2 * n + 1]! > scores[2 * n]! ? 1 : 0) === labels[n]) correct++;
console.log(`accuracy on new bars: ${correct}/16`);

export { correct };
