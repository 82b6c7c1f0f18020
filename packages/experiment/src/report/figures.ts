import type { Report } from './types.js';
import type { ReportFigures } from './html.js';
import { renderReportHtml } from './html.js';
import { confusionHeatmap } from './heatmap.js';
import { trainingCurvesChart } from './line-chart.js';
import { encodePng, filterGrid, pngDataUri } from './png.js';
import type { RocCurve } from './roc.js';
import { learningCurveChart, rocChart } from './study-charts.js';
import { scatterPlot } from './scatter.js';
import { vennDiagram } from './venn.js';
import { writeReport } from './write.js';

/** Data for the figures that report.json does not hold. */
export interface FigureInputs {
  /** A 2-D map of the training set's penultimate-layer features (from `tsne`) and each point's class. */
  tsne?: { embedding: ArrayLike<number>; labels: ArrayLike<number>; caption?: string };
  /** The first convolutional layer's weights, [O, C, kh, kw]. */
  conv1?: { weights: Float32Array | Float64Array; shape: readonly [number, number, number, number]; channelOrder: 'BGR' | 'RGB' };
  /** Thumbnails of misclassified test images (`galleryThumbnail`), keyed by path. */
  thumbnails?: Record<string, string>;
  /** What to call the second reader in the Venn diagram ('reader' by default). */
  readerName?: string;
  /** One-vs-rest ROC curves of the test split, one per class. */
  roc?: readonly RocCurve[];
  /** Grad-CAM overlays: PNG files by name (written beside the report) and `data:` URIs by image path (embedded). */
  saliency?: { files: Record<string, Uint8Array>; uris: Record<string, string>; layer: string };
  /** Where the learning curve's `all` point sits: the most training studies any class has. */
  learningCurveAll?: number;
}

/** File names of the figures in the output folder. */
export const FIGURE_FILES = {
  curves: 'training-curves.svg',
  confusion: 'confusion.svg',
  tsne: 'tsne.svg',
  venn: 'venn.svg',
  conv1Filters: 'conv1-filters.png',
  roc: 'roc.svg',
  learningCurve: 'learning-curve.svg',
} as const;

/**
 * Draws every figure the data allows: the HTML embeds them (`figures`) and
 * the output folder gets each as its own file (`files`, by file name).
 */
export function buildFigures(report: Report, inputs: FigureInputs = {}): { figures: ReportFigures; files: Record<string, string | Uint8Array> } {
  const figures: ReportFigures = { captions: {} };
  const files: Record<string, string | Uint8Array> = {};

  figures.curves = trainingCurvesChart(report.training);
  figures.confusion = confusionHeatmap(report.test.confusion, report.classes, { title: 'Confusion matrix, test set' });
  if (inputs.tsne) {
    figures.tsne = scatterPlot(inputs.tsne.embedding, inputs.tsne.labels, report.classes, { title: 't-SNE of penultimate-layer features, training set' });
    if (inputs.tsne.caption) figures.captions!.tsne = inputs.tsne.caption;
  }
  if (report.reader) figures.venn = vennDiagram(report.reader.venn, ['network', inputs.readerName ?? 'reader'], { title: 'Correctly classified test images' });
  if (inputs.conv1) {
    const [o, c, kh, kw] = inputs.conv1.shape;
    // 11 x 11 filters at 4x stay crisp (the page renders them pixelated) and the grid stays under 600 px wide.
    const grid = filterGrid(inputs.conv1.weights, inputs.conv1.shape, { channelOrder: inputs.conv1.channelOrder, scale: kw <= 16 ? 4 : 1, padding: 2 });
    const png = encodePng(grid.rgba, grid.width, grid.height);
    files[FIGURE_FILES.conv1Filters] = png;
    figures.conv1Filters = pngDataUri(png);
    figures.captions!.conv1Filters = `${o} filters of ${c} x ${kh} x ${kw}, ${c === 3 ? `stored ${inputs.conv1.channelOrder}, shown as RGB, ` : ''}normalised jointly to 0-255.`;
  }
  if (inputs.thumbnails) figures.thumbnails = inputs.thumbnails;
  if (inputs.roc) figures.roc = rocChart(inputs.roc, report.classes);
  if (report.learning_curve?.length) figures.learningCurve = learningCurveChart(report.learning_curve, inputs.learningCurveAll ?? 0);
  if (inputs.saliency) {
    figures.saliency = inputs.saliency.uris;
    figures.captions!.saliency = `Grad-CAM at ${inputs.saliency.layer}, for the class the network predicted.`;
    Object.assign(files, inputs.saliency.files);
  }
  for (const key of ['curves', 'confusion', 'tsne', 'venn', 'roc', 'learningCurve'] as const) {
    const svg = figures[key];
    if (svg) files[FIGURE_FILES[key]] = svg;
  }
  return { figures, files };
}

/** Builds the figures, renders report.html and writes everything to `outDir` atomically (see `writeReport`). */
export async function renderAndWriteReport(outDir: string, report: Report, inputs: FigureInputs = {}): Promise<string[]> {
  const { figures, files } = buildFigures(report, inputs);
  return writeReport(outDir, { reportJson: report, html: renderReportHtml(report, figures), figures: files });
}
