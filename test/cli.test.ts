import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { KNOWN_MODELS, MODEL_ZOO } from '@cnn/experiment';
import { REPO_ROOT, deviation, fixture, readF32 } from './helpers/shared.js';

/**
 * The `cnn` command as a user runs it: a child process from the repository root, straight from
 * the TypeScript sources (`node --conditions=source --import tsx packages/experiment/src/cli.ts`),
 * on the shared fixtures. Exit codes, stdout and the one-line errors on stderr are checked.
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cnn(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'packages/experiment/src/cli.ts', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, CNN_THREADS: '1' }, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const tiny = (file: string): string => fixture('caffe/caffenet_tiny', file);
const lenet = (file: string): string => fixture('caffe/real/lenet', file);
const work = mkdtempSync(path.join(tmpdir(), 'cnn-cli-test-'));

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface FixtureCase {
  id: string;
  input: { file: string; shape: number[] };
  outputs: { layer: string; top: string; shape: number[]; file: string }[];
  top1: { class: number; prob: number };
  expected_label_from_filename?: number;
}

function casesOf(dir: string): FixtureCase[] {
  return (JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { cases: FixtureCase[] }).cases;
}

/** A fixture LeNet input (gray uint8 x 1/256) back as its 28 x 28 gray pixels. */
function digitPixels(testCase: FixtureCase): Uint8Array {
  const values = readF32(lenet(testCase.input.file));
  return Uint8Array.from(values, (v) => Math.round(v * 256));
}

function writeGrayPng(file: string, gray: Uint8Array, side: number): void {
  const png = new pngjs.PNG({ width: side, height: side, colorType: 0 });
  gray.forEach((v, i) => png.data.set([v, v, v, 255], i * 4));
  writeFileSync(file, pngjs.PNG.sync.write(png, { colorType: 0 }));
}

function writeJpeg(file: string, gray: Uint8Array, side: number): void {
  const rgba = Buffer.alloc(side * side * 4);
  gray.forEach((v, i) => rgba.set([v, v, v, 255], i * 4));
  writeFileSync(file, jpeg.encode({ data: rgba, width: side, height: side }, 100).data);
}

describe('cnn inspect', () => {
  const model = tiny('caffenet_tiny_v1.caffemodel');
  const sha1 = createHash('sha1').update(readFileSync(model)).digest('hex');

  it('lists a V1 caffemodel: format, 24 stored layers with enum types and legacy blob shapes, size, sha1', async () => {
    const run = await cnn('inspect', model);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^format\s+V1\b/m);
    expect(run.stdout).toContain(`sha1     ${sha1}`);
    expect(run.stdout).toContain('3,597,754 bytes');
    expect(run.stdout).toMatch(/^fc6\s+INNER_PRODUCT\s+1x1x512x1152 1x1x1x512\s+590,336/m);
    expect(run.stdout).toMatch(/^load\s+\d+ ms/m);
  });

  it('recognises the real CaffeNet by the sha1 of BVLC\'s readme, the one fetch-model verifies', () => {
    expect(KNOWN_MODELS['4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46']).toMatch(/^BVLC reference CaffeNet/);
    expect(MODEL_ZOO.caffenet!.sha1).toBe('4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46');
  });

  it('--json gives the same facts to a program', async () => {
    const run = await cnn('inspect', model, '--json');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      format: string;
      sha1: string;
      bytes: number;
      layers: { name: string; type: string; blobs: { shape: number[] }[] }[];
      parameters: number;
      knownModel: string | null;
    };
    expect(report.format).toBe('V1');
    expect(report.sha1).toBe(sha1);
    expect(report.bytes).toBe(3_597_754);
    expect(report.layers).toHaveLength(24);
    expect(report.layers[0]).toMatchObject({ name: 'data', type: 'DATA' });
    expect(report.layers.find((l) => l.name === 'conv2')?.blobs.map((b) => b.shape)).toEqual([[32, 6, 5, 5], [1, 1, 1, 32]]);
    expect(report.parameters).toBe(899_067);
    expect(report.knownModel).toBeNull();
  });

  it('with --prototxt, also builds the net and shows its summary and which layers got weights', async () => {
    const run = await cnn('inspect', tiny('caffenet_tiny_v2.caffemodel'), '--prototxt', tiny('deploy.prototxt'));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^format\s+V2\b/m);
    expect(run.stdout).toMatch(/^conv1\s+Convolution\s+\[1,12,55,55\]\s+4,368/m);
    expect(run.stdout).toContain('weights copied: conv1, conv2, conv3, conv4, conv5, fc6, fc7, fc8');
    expect(run.stdout).toMatch(/^total\s+899,067/m);
  });
});

describe('cnn forward', () => {
  const testCase = casesOf(tiny('.')).find((c) => c.id === 'random_normal')!;

  it('writes every layer output in execution order, conv1 and relu1 apart, each equal to the reference', async () => {
    const out = path.join(work, 'forward-all');
    const run = await cnn(
      'forward', '--prototxt', tiny('deploy_v1.prototxt'), '--weights', tiny('caffenet_tiny_v1.caffemodel'),
      '--input', tiny(testCase.input.file), '--shape', testCase.input.shape.join(','), '--out', out,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')) as {
      layers: { layer: string; type: string; top: string; shape: number[]; file: string }[];
      input: { shape: number[] };
    };
    expect(index.input.shape).toEqual([1, 3, 227, 227]);
    expect(index.layers.map((l) => l.layer)).toEqual(testCase.outputs.map((o) => o.layer));
    expect(index.layers.slice(0, 2)).toEqual([
      { layer: 'conv1', type: 'Convolution', top: 'conv1', shape: [1, 12, 55, 55], file: 'conv1.f32' },
      { layer: 'relu1', type: 'ReLU', top: 'conv1', shape: [1, 12, 55, 55], file: 'relu1.f32' },
    ]);
    for (const expected of testCase.outputs) {
      const entry = index.layers.find((l) => l.layer === expected.layer)!;
      expect(entry.top).toBe(expected.top);
      expect(entry.shape).toEqual(expected.shape);
      const d = deviation(readF32(path.join(out, entry.file)), readF32(tiny(expected.file)));
      expect(d.worstRatio, `${expected.layer}: ${d.worstRatio} x tolerance`).toBeLessThanOrEqual(1);
    }
    // The in-place ReLU got its own file: conv1 still has its negative values.
    expect(readF32(path.join(out, 'conv1.f32')).some((v) => v < 0)).toBe(true);
    expect(readF32(path.join(out, 'relu1.f32')).every((v) => v >= 0)).toBe(true);
  });

  it('--outputs writes only the named layers', async () => {
    const out = path.join(work, 'forward-some');
    const run = await cnn(
      'forward', '--prototxt', tiny('deploy.prototxt'), '--weights', tiny('caffenet_tiny_v2.caffemodel'),
      '--input', tiny(testCase.input.file), '--shape', '1,3,227,227', '--out', out, '--outputs', 'relu1,prob',
    );
    expect(run.code).toBe(0);
    const index = JSON.parse(readFileSync(path.join(out, 'index.json'), 'utf8')) as { layers: { layer: string; file: string }[] };
    expect(index.layers.map((l) => l.layer)).toEqual(['relu1', 'prob']);
    expect(readdirSync(out).sort()).toEqual(['index.json', 'input.f32', 'prob.f32', 'relu1.f32']);
    const d = deviation(readF32(path.join(out, 'prob.f32')), readF32(tiny(testCase.outputs.find((o) => o.layer === 'prob')!.file)));
    expect(d.worstRatio).toBeLessThanOrEqual(1);
  });

  it('preprocesses an image input with the flags (LeNet digit PNG, scale 1/256) to the reference input', async () => {
    const digit = casesOf(lenet('.'))[0]!;
    const png = path.join(work, 'forward-digit.png');
    writeGrayPng(png, digitPixels(digit), 28);
    const out = path.join(work, 'forward-image');
    const run = await cnn('forward', '--prototxt', lenet('deploy.prototxt'), '--weights', lenet('model.caffemodel'), '--input', png, '--scale', '0.00390625', '--out', out);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(readF32(path.join(out, 'input.f32'))).toEqual(readF32(lenet(digit.input.file)));
    const loss = digit.outputs.find((o) => o.layer === 'loss')!;
    expect(deviation(readF32(path.join(out, 'loss.f32')), readF32(lenet(loss.file))).worstRatio).toBeLessThanOrEqual(1);
  });
});

describe('cnn classify', () => {
  const digits = casesOf(lenet('.'));

  it('classifies LeNet digit PNGs (one per fixture case) with the expected top-1 and probability', async () => {
    const files = digits.map((digit) => {
      const file = path.join(work, `${digit.id}.png`);
      writeGrayPng(file, digitPixels(digit), 28);
      return file;
    });
    const run = await cnn('classify', '--prototxt', lenet('deploy.prototxt'), '--weights', lenet('model.caffemodel'), '--labels', lenet('labels.txt'), '--scale', '0.00390625', '--json', ...files);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { results: { image: string; top: { index: number; label: string; probability: number }[] }[]; output: { softmaxApplied: boolean } };
    expect(report.output.softmaxApplied).toBe(false);
    report.results.forEach((result, i) => {
      const digit = digits[i]!;
      expect(result.top).toHaveLength(5);
      expect(result.top[0]!.index).toBe(digit.expected_label_from_filename);
      expect(result.top[0]!.label).toBe(readFileSync(lenet('labels.txt'), 'utf8').split('\n')[digit.top1.class]!.trim());
      expect(Math.abs(result.top[0]!.probability - digit.top1.prob)).toBeLessThanOrEqual(1e-4);
    });
  });

  it('reads JPEG too and prints the top-5 as text', async () => {
    const digit = digits.find((d) => d.expected_label_from_filename === 2)!;
    const file = path.join(work, 'digit.jpg');
    writeJpeg(file, digitPixels(digit), 28);
    const run = await cnn('classify', '--prototxt', lenet('deploy.prototxt'), '--weights', lenet('model.caffemodel'), '--scale', '0.00390625', file);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(file);
    expect(lines.slice(1, 6)).toHaveLength(5);
    expect(lines[1]).toMatch(/^ {2}1\. (0\.99\d\d|1\.0000) {2}class 2$/);
  });
});

describe('cnn classify --saliency', () => {
  it("writes the Grad-CAM overlay of the top class over the image as the net saw it", async () => {
    const dir = fixture('imagenet/mobilenet_v1_0.75_192');
    const rgb = new Uint8Array(readFileSync(path.join(dir, 'inputs/bird.rgb')));
    const png = new pngjs.PNG({ width: 192, height: 192 });
    for (let p = 0; p < 192 * 192; p++) png.data.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, 255], p * 4);
    const file = path.join(work, 'bird.png');
    writeFileSync(file, pngjs.PNG.sync.write(png));
    const out = path.join(work, 'saliency');
    const model = path.join(REPO_ROOT, 'models/mobilenet_v1_0.75_192');
    const run = await cnn('classify', '--prototxt', path.join(model, 'deploy.prototxt'), '--weights', path.join(model, 'mobilenet_v1_0.75_192.caffemodel'), '--preset', 'mobilenet', '--saliency', out, '--json', file);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as { results: { top: { index: number }[]; saliency: string }[] };
    expect(report.results[0]!.top[0]!.index).toBe(20); // chickadee, as the fixture expects
    expect(report.results[0]!.saliency).toBe(path.join(out, 'bird.saliency.png'));
    const overlay = pngjs.PNG.sync.read(readFileSync(path.join(out, 'bird.saliency.png')));
    expect([overlay.width, overlay.height]).toEqual([192, 192]);
    // Tinted pixels (the overlay differs from the photo) exist, and untouched ones too: the map is not uniform.
    let changed = 0;
    for (let p = 0; p < 192 * 192; p++) if (Math.abs(overlay.data[p * 4]! - rgb[p * 3]!) > 8) changed++;
    expect(changed).toBeGreaterThan(192 * 192 * 0.05);
    expect(changed).toBeLessThan(192 * 192 * 0.95);
  });
});

describe('cnn on bad input: one clear line on stderr, exit code 1', () => {
  const raw = ['--input', tiny('inputs/random_normal.f32'), '--shape', '1,3,227,227', '--out', path.join(work, 'never')];

  async function fails(...args: string[]): Promise<string> {
    const run = await cnn(...args);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    return lines[0]!;
  }

  it('an HTML page saved as the weights', async () => {
    const page = path.join(work, 'page.caffemodel');
    writeFileSync(page, '<!DOCTYPE html>\n<html><head><title>Download</title></head><body>Moved</body></html>\n');
    const message = await fails('forward', '--prototxt', tiny('deploy.prototxt'), '--weights', page, ...raw);
    expect(message).toMatch(/^cnn: CaffeFormatError: .*page\.caffemodel: is an HTML page/);
  });

  it('a Git LFS pointer instead of the weights', async () => {
    const pointer = path.join(work, 'pointer.caffemodel');
    writeFileSync(pointer, `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(32)}\nsize 243862418\n`);
    const message = await fails('inspect', pointer);
    expect(message).toMatch(/^cnn: CaffeFormatError: .*Git LFS pointer/);
    expect(message).toContain('243862418');
  });

  it('a prototxt with an unknown layer type names the type and lists the supported ones', async () => {
    const prototxt = path.join(work, 'unknown.prototxt');
    writeFileSync(prototxt, readFileSync(tiny('deploy.prototxt'), 'utf8').replace('type: "LRN"', 'type: "Swish"'));
    const message = await fails('forward', '--prototxt', prototxt, '--weights', tiny('caffenet_tiny_v2.caffemodel'), ...raw);
    expect(message).toContain("layer 'norm1' has unknown type 'Swish'");
    expect(message).toMatch(/supported types: .*Convolution.*InnerProduct.*LRN.*Pooling.*ReLU.*Softmax/);
    expect(existsSync(path.join(work, 'never'))).toBe(false);
  });

  it('fc8 with another number of classes names the layer, both shapes, and suggests renaming it', async () => {
    const text = readFileSync(tiny('deploy.prototxt'), 'utf8');
    const at = text.indexOf('num_output: 11', text.indexOf('name: "fc8"'));
    const prototxt = path.join(work, 'fc8-10-classes.prototxt');
    writeFileSync(prototxt, `${text.slice(0, at)}num_output: 10${text.slice(at + 'num_output: 11'.length)}`);
    const message = await fails('classify', '--prototxt', prototxt, '--weights', tiny('caffenet_tiny_v2.caffemodel'), tiny('inputs/random_normal.f32'));
    expect(message).toMatch(/^cnn: ShapeError: /);
    expect(message).toContain("layer 'fc8'");
    expect(message).toContain('[11,512]');
    expect(message).toContain('[10,512]');
    expect(message).toContain("'fc8' -> 'fc8_new'");
  });

  it('a raw input of the wrong size says how many bytes the shape needs', async () => {
    const message = await fails('forward', '--prototxt', tiny('deploy.prototxt'), '--input', tiny('inputs/random_normal.f32'), '--shape', '1,3,227,228', '--out', path.join(work, 'never'));
    expect(message).toContain('618348 bytes, but shape 1,3,227,228 needs 155268 float32 values = 621072 bytes');
  });
});
