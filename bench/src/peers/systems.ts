import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { simdSupported } from '@cnn/tensor';
import { openCvPython } from './opencv-python.js';
import type { PeerModel } from './reference.js';
import type { Runner, RunnerSetup } from './runner.js';

/** The batch sizes and thread counts of the table's columns. */
export const batches = [1, 64] as const;
export const threadCounts = [1, 2] as const;

/** One row of the table: a system and how to open it (its module is loaded only in its own process). */
export interface System {
  id: string;
  label: string;
  /** Why the system does not run a configuration (the cell says so), or undefined when it does. */
  skip(model: PeerModel, batch: number, threads: number): string | undefined;
  open(setup: RunnerSetup): Promise<Runner>;
}

const require = createRequire(import.meta.url);

/** The installed version of an npm package, from its package.json (found as Node resolves the package). */
function version(name: string): string {
  for (const dir of require.resolve.paths(name) ?? []) {
    try {
      return (JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      // Not in this node_modules: try the next one up.
    }
  }
  throw new Error(`${name} is not installed (it is a devDependency of bench/)`);
}

/** A single-threaded system's 2-thread cells. */
const singleThreaded = (reason: string) => (_model: PeerModel, _batch: number, threads: number) => (threads > 1 ? reason : undefined);

/** Slow systems run batch 1 only: a batch of 64 would take minutes per sample. */
export const tooSlowAt64 = 'too slow: skipped';

/** The plain JavaScript peers run CaffeNet only (convnetjs has no depthwise convolution; tfjs's cpu backend would take minutes). */
const caffeNetOnly = (model: PeerModel): string | undefined => (model.id === 'caffenet' ? undefined : 'CaffeNet only');

/** The systems in table order: this project first, then what a user would pick instead. */
export function systems(): System[] {
  const ours: System[] = (simdSupported() ? (['js', 'wasm'] as const) : (['js'] as const)).map((backend) => ({
    id: `ours-${backend}`,
    label: `this project, ${backend} backend`,
    skip: () => undefined,
    open: async (setup) => (await import('./ours.js')).oursRunner(backend, setup),
  }));
  const tfjs = version('@tensorflow/tfjs');
  return [
    ...ours,
    {
      id: 'tfjs-cpu',
      label: `tfjs ${tfjs}, cpu backend`,
      skip: (model, batch, threads) => caffeNetOnly(model) ?? singleThreaded('single-threaded (JavaScript)')(model, batch, threads) ?? (batch > 1 ? tooSlowAt64 : undefined),
      open: async (setup) => (await import('./tfjs.js')).tfjsRunner('cpu', setup),
    },
    {
      id: 'tfjs-wasm',
      label: `tfjs ${tfjs}, wasm backend`,
      skip: singleThreaded('single-threaded in Node'),
      open: async (setup) => (await import('./tfjs.js')).tfjsRunner('wasm', setup),
    },
    {
      id: 'opencv',
      label: `OpenCV ${openCvPython()?.version ?? '(cv2 not importable: apt-get install -y python3-opencv)'} dnn (Python, native)`,
      skip: () => undefined,
      open: async (setup) => (await import('./opencv.js')).openCvRunner(setup),
    },
    {
      id: 'ort-web',
      label: `onnxruntime-web ${version('onnxruntime-web')} (wasm)`,
      skip: () => undefined,
      open: async (setup) => (await import('./onnxruntime.js')).onnxruntimeWeb(setup),
    },
    {
      id: 'ort-node',
      label: `onnxruntime-node ${version('onnxruntime-node')} (native CPU)`,
      skip: () => undefined,
      open: async (setup) => (await import('./onnxruntime.js')).onnxruntimeNode(setup),
    },
    {
      id: 'convnetjs',
      label: `convnetjs ${version('convnetjs')}`,
      skip: (model, batch, threads) => caffeNetOnly(model) ?? singleThreaded('single-threaded (JavaScript)')(model, batch, threads) ?? (batch > 1 ? tooSlowAt64 : undefined),
      open: async (setup) => (await import('./convnetjs.js')).convnetjsRunner(setup),
    },
  ];
}
