export type * from './types.js';
export {
  accuracy,
  accuracyFromConfusion,
  bootstrapAccuracyCI,
  confusionMatrix,
  macroAverage,
  mcnemarExactP,
  perClassMetrics,
  pooledBootstrapAccuracyCI,
  quantileSorted,
  resampledAccuracies,
  readerComparison,
  type BootstrapInterval,
  type BootstrapOptions,
  type ClassScores,
  type ReaderComparison,
} from './metrics.js';
export { sampleIndices, tsne, TSNE_MAX_POINTS, type TsneOptions, type TsneResult } from './tsne.js';
export { pcaScores } from './pca.js';
export { escapeXml, niceTicks, PALETTE, classStyle, svgDocument } from './svg.js';
export { lineChart, trainingCurvesChart, movingAverage, type Panel, type Series, type LineChartOptions } from './line-chart.js';
export { confusionHeatmap, type HeatmapOptions } from './heatmap.js';
export { scatterPlot, type ScatterOptions } from './scatter.js';
export { vennDiagram, lensArea, type VennCounts, type VennOptions } from './venn.js';
export { encodePng, encodeGrayPng, pngDataUri, filterGrid, downsampleGray, galleryThumbnail, type RgbaImage, type FilterGridOptions, type ThumbnailOptions } from './png.js';
export { renderReportHtml, galleryOrder, inlineSvg, SECTION_IDS, type ReportFigures, type HtmlOptions } from './html.js';
export { writeFileAtomic, writeReport, type FileData, type ReportFiles } from './write.js';
export { buildFigures, renderAndWriteReport, FIGURE_FILES, type FigureInputs } from './figures.js';
export { rocCurve, oneVsRestRoc, macroAuc, bootstrapAucCI, sensitivitySpecificity, type RocCurve } from './roc.js';
export { learningCurveChart, rocChart } from './study-charts.js';
