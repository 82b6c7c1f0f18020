import { Net, caffeNet } from '@cnn/nn';
import { Rng, setBackend, type BackendName } from '@cnn/tensor';

/*
 * Child process of the `caffenet` benchmark: builds CaffeNet at batch 64 under one backend,
 * runs two forward passes on random input and prints, as one JSON line, the process's peak
 * resident size. Run alone, so that the peak belongs to that one net and nothing else.
 */
const backend = process.argv[2] as BackendName | undefined;
if (backend !== 'js' && backend !== 'wasm') throw new Error('usage: forward-once js|wasm');
setBackend(backend);
const rssBeforeKiB = Math.round(process.memoryUsage().rss / 1024);
const net = new Net(caffeNet({ batch: 64 }), { phase: 'TEST', seed: 1 });
const data = net.blob('data').data.data;
const rng = new Rng(2);
for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-128, 128);
net.forward();
net.forward();
console.log(JSON.stringify({ backend, rssBeforeKiB, maxRssKiB: process.resourceUsage().maxRSS }));
process.exit(0);
