import type { Report } from '../types.js';

/** A small but complete report for tests: 3 classes, a reader, misclassified cases and awkward names that need escaping. */
export function sampleReport(overrides: Partial<Report> = {}): Report {
  const classes = ['kidney left <long>', 'kidney right & co', 'spleen'];
  return {
    format: 1,
    title: 'Test run',
    synthetic: true,
    created: '2024-01-01T00:00:00.000Z',
    run_id: 'run-123',
    config: { model: 'caffenet', seed: 1, solver: { base_lr: 0.001, max_iter: 10 }, layers: ['fc6', 'fc7', 'fc8'] },
    classes,
    dataset: {
      source: '/data/ultrasound',
      counts: {
        train: { images: 12, studies: 4 },
        validation: { images: 3, studies: 1 },
        test: { images: 6, studies: 2 },
        total: { images: 21, studies: 7 },
        excluded: 2,
      },
      split: classes.map((c, k) => ({ class: c, train: 4, validation: 1, test: 2, total: 7 + (k === 0 ? 0 : 0) })),
      excluded: [
        { path: 'x/<script>alert(1)</script>.png', reason: 'unreadable: not a PNG' },
        { path: 'doppler.png', reason: 'colour Doppler' },
      ],
      problems: ['2 images excluded'],
    },
    training: { iterations: 10, batch_size: 4, loss: [2, 1.6, 1.2, 1, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4], validation: [{ iter: 0, accuracy: 0.3 }, { iter: 5, accuracy: 0.6 }, { iter: 9, accuracy: 0.67 }] },
    test: {
      count: 6,
      accuracy: 0.5,
      ci95: [0.25, 0.75],
      studies: 2,
      confusion: [
        [1, 1, 0],
        [0, 2, 0],
        [2, 0, 0],
      ],
      per_class: [
        { class: classes[0]!, precision: 1 / 3, recall: 0.5, f1: 0.4, auc: 0.75, support: 2 },
        { class: classes[1]!, precision: 2 / 3, recall: 1, f1: 0.8, auc: 1, support: 2 },
        { class: classes[2]!, precision: 0, recall: 0, f1: 0, auc: null, support: 2 },
      ],
      macro: { precision: 1 / 3, recall: 0.5, f1: 0.4 },
      misclassified: [
        { path: 'c.png', study: 's2', true: 'spleen', predicted: classes[0]!, reader: classes[1]!, probability: 0.6 },
        { path: 'b.png', study: 's2', true: 'spleen', predicted: classes[0]!, reader: 'spleen', probability: 0.7 },
        { path: 'a.png', study: 's1', true: classes[0]!, predicted: classes[1]!, probability: 0.55 },
      ],
    },
    reader: { source: 'reader.csv', count: 6, accuracy: 0.5, network_accuracy: 0.5, venn: { bothRight: 2, networkOnly: 1, readerOnly: 1, neither: 2 }, mcnemar_p: 1 },
    timing: { features_per_second: 12.5, total_seconds: 42.25, extract_seconds: 20, train_seconds: 15 },
    ...overrides,
  };
}
