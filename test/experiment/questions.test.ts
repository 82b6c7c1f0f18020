import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '@cnn/caffe-import';
import { Net } from '@cnn/nn';
import { shutdownPool } from '@cnn/tensor';
import { planTransfer, resolveConfig, runExperiment, SHIPPED_BASE, type Report } from '@cnn/experiment';
import { loadDataset, prepareImages, splitByStudy, mobilenetRecipe } from '@cnn/experiment/data';
import { classifierNetDef, fineTune, drawStudies, parseLearningCurve } from '@cnn/experiment/transfer';
import { Rng } from '@cnn/tensor';
import { shared } from './paths.js';

afterAll(async () => {
  await shutdownPool();
});

/**
 * The study's open questions on a real set (usanotai, grouped by its manifest's studies) with the
 * shipped base: learning curve, ROC/AUC, Grad-CAM overlays and fine-tuning of the last block, in one
 * short run whose report.json is checked key by key against the contract.
 */
describe('the report answers the open questions (usanotai, shipped MobileNet)', () => {
  let report: Report;
  let out: string;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'cnn-questions-'));
    ({ report } = await runExperiment(
      resolveConfig({
        data: shared('data/usanotai/manifest.csv'),
        out,
        cacheDir: join(out, 'cache'),
        maxIter: 60,
        validationInterval: 10,
        fromScratch: true,
        scratchIter: 20,
        learningCurve: '2,all',
        learningCurveDraws: 3,
        fineTuneFrom: 'conv6/dw',
        fineTuneIter: 5,
        fineTuneBatch: 8,
        saliencyPerClass: 1,
        quiet: true,
      }),
      () => undefined,
    ));
  }, 600_000);

  it('learning_curve: one point per amount, transfer and scratch each { accuracy, ci95 } with the accuracy inside', () => {
    const curve = report.learning_curve!;
    expect(curve.map((p) => p.studies_per_class)).toEqual([2, 'all']);
    for (const point of curve) {
      expect(Object.keys(point).sort()).toEqual(['scratch', 'studies_per_class', 'transfer']);
      for (const side of [point.transfer, point.scratch!]) {
        expect(Object.keys(side).sort()).toEqual(['accuracy', 'ci95']);
        expect(side.ci95[0]).toBeLessThanOrEqual(side.accuracy + 1e-9);
        expect(side.accuracy).toBeLessThanOrEqual(side.ci95[1] + 1e-9);
      }
    }
  });

  it('test.auc and test.per_class with the issue keys, consistent with the confusion matrix', () => {
    expect(report.test.auc).toBeGreaterThan(0.5);
    expect(report.test.auc).toBeLessThanOrEqual(1);
    const keys = ['class', 'precision', 'recall', 'f1', 'auc', 'support'];
    report.test.per_class.forEach((m, c) => {
      expect(Object.keys(m).sort()).toEqual([...keys].sort());
      const row = report.test.confusion[c]!;
      const total = report.test.confusion.flat().reduce((a, b) => a + b, 0);
      const calledC = report.test.confusion.reduce((sum, r) => sum + r[c]!, 0);
      expect(m.support).toBe(row.reduce((a, b) => a + b, 0));
      expect(m.recall).toBeCloseTo(row[c]! / m.support, 12);
      expect(report.test.specificity![c]).toBeCloseTo((total - m.support - (calledC - row[c]!)) / (total - m.support), 12);
    });
    const defined = report.test.per_class.flatMap((m) => (m.auc === null ? [] : [m.auc]));
    expect(report.test.auc).toBeCloseTo(defined.reduce((a, b) => a + b, 0) / defined.length, 12);
    expect(report.test.auc_ci95![0]).toBeLessThanOrEqual(report.test.auc_ci95![1]);
  });

  it('saliency: an overlay file for every misclassified test image and one right image per class', () => {
    const entries = report.saliency!;
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual(['class', 'file', 'path']);
      expect(existsSync(join(out, entry.file))).toBe(true);
      expect(readFileSync(join(out, entry.file)).subarray(1, 4).toString()).toBe('PNG');
    }
    const explained = new Set(entries.map((e) => e.path));
    for (const wrong of report.test.misclassified ?? []) expect(explained.has(wrong.path)).toBe(true);
    expect(entries.length - explained.size).toBe(0);
    expect(entries.length).toBeLessThanOrEqual((report.test.misclassified?.length ?? 0) + report.classes.length);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    for (const id of ['learning-curve', 'roc', 'saliency', 'fine-tune']) expect(html).toContain(`<section id="${id}">`);
  });

  it('fine_tune: { from, test: { accuracy, ci95 }, seconds } on the same test split', () => {
    const fine = report.fine_tune!;
    expect(fine.from).toBe('conv6/dw');
    expect(fine.test.ci95[0]).toBeLessThanOrEqual(fine.test.accuracy);
    expect(fine.seconds).toBeGreaterThan(0);
    expect(Object.keys(fine).sort()).toEqual(['from', 'seconds', 'test']);
    expect(report.fine_tune_validation!.iterations).toBe(5);
  });
});

describe('fine-tuning', () => {
  const model = loadModel({ prototxt: SHIPPED_BASE.prototxt, weights: SHIPPED_BASE.weights });
  const plan = planTransfer(model.def, model.net, 3);

  it("follows Caffe's lr_mult: layers before conv6/dw frozen (no backward), conv6 learns at 1, the new classifier at 10 / 20", () => {
    const net = new Net(classifierNetDef(plan, 2, 'TRAIN', 'conv6/dw'), { phase: 'TRAIN', seed: 1 });
    expect(net.layer('conv5_6/sep').params.every((p) => p.lrMult === 0)).toBe(true);
    expect(net.needsBackward(net.layerIndex('conv5_6/sep'))).toBe(false);
    expect(net.layer('conv6/dw').params.map((p) => p.lrMult)).toEqual([1, 1]);
    expect(net.needsBackward(net.layerIndex('conv6/dw'))).toBe(true);
    expect(net.layer('fc7_new').params.map((p) => p.lrMult)).toEqual([10, 20]);
    expect(() => classifierNetDef(plan, 2, 'TRAIN', 'conv99')).toThrow(/--fine-tune-from conv99: the base has no such layer/);
  });

  it('resumes from its checkpoint exactly: 3 + 3 iterations give the losses of 6 straight', async () => {
    const dataset = await loadDataset(shared('data/usanotai/manifest.csv'));
    const split = splitByStudy(dataset.items, { seed: 1, fractions: { train: 0.6, val: 0.2, test: 0.2 } });
    const prepared = await prepareImages(split.items, dataset.classes, {});
    const rows = (which: string) => prepared.items.flatMap((item, i) => (item.split === which && item.label < 3 ? [i] : []));
    const labels = prepared.items.map((item) => item.label);
    const weights = (layer: string, index: number) => (layer === 'fc7_new' ? undefined : (model.net.layer(layer).params[index]?.data.data as Float32Array));
    const settings = { from: 'conv6/dw', batchSize: 4, baseLr: 0.001, momentum: 0.9, weightDecay: 5e-4, validationInterval: 3, seed: 2 };
    const data = { train: rows('train'), val: rows('val').slice(0, 6) };
    const run = (iterations: number, path: string, resume: boolean) =>
      fineTune(plan, prepared.images, labels, data, mobilenetRecipe(160), { ...settings, iterations }, weights, { checkpoint: { path, key: 'k', resume }, quiet: true });
    const dir = mkdtempSync(join(tmpdir(), 'cnn-fine-'));
    const straight = run(6, join(dir, 'a'), false);
    run(3, join(dir, 'b'), false);
    const resumed = run(6, join(dir, 'b'), true);
    expect(resumed.resumedAt).toBe(3);
    expect(resumed.loss).toEqual(straight.loss);
  }, 300_000);
});

describe('learning-curve draws', () => {
  it("parses the issue's list and refuses a list out of order", () => {
    expect(parseLearningCurve('2,4,8,16,all')).toEqual([2, 4, 8, 16, 'all']);
    expect(() => parseLearningCurve('4,2')).toThrow(/increasing/);
    expect(() => parseLearningCurve('0,all')).toThrow(/positive integer/);
  });

  it('draws n whole studies per class, by the seed', () => {
    // 3 classes x 4 studies x 2 images; rows are numbered class*8 + study*2 + image.
    const rows = [...Array(24).keys()];
    const label = (r: number) => Math.floor(r / 8);
    const study = (r: number) => `s${Math.floor(r / 2)}`;
    const drawn = drawStudies(rows, label, study, 2, new Rng(5));
    expect(drawn).toHaveLength(3 * 2 * 2);
    for (let c = 0; c < 3; c++) expect(new Set(drawn.filter((r) => label(r) === c).map(study)).size).toBe(2);
    for (const r of drawn) expect(drawn).toContain(r % 2 === 0 ? r + 1 : r - 1); // both images of a drawn study
    expect(drawStudies(rows, label, study, 2, new Rng(5))).toEqual(drawn);
    expect(drawStudies(rows, label, study, 'all', new Rng(5))).toEqual(rows);
  });
});
