import { loadModel } from '@cnn/caffe-import';

/*
 * Child process of the `load` benchmark: loads one model into a ready net and prints, as one
 * JSON line, how long that took and the process's peak memory. Run alone so that the peak
 * resident size belongs to the load and nothing else (/usr/bin/time -v measures this process).
 */
const [prototxt, weights] = process.argv.slice(2);
if (!prototxt || !weights) throw new Error('usage: load-once <deploy.prototxt> <model.caffemodel>');
const rssBeforeKiB = Math.round(process.memoryUsage().rss / 1024);
const started = performance.now();
const { net } = loadModel({ prototxt, weights });
const loadMs = performance.now() - started;
console.log(
  JSON.stringify({
    loadMs,
    layers: net.layers.length,
    parameters: net.params.reduce((sum, param) => sum + param.count, 0),
    rssBeforeKiB,
    maxRssKiB: process.resourceUsage().maxRSS,
  }),
);
