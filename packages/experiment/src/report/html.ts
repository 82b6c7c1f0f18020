import type { JsonValue, MisclassifiedCase, Report } from './types.js';
import { escapeXml } from './svg.js';
import { pngDataUri } from './png.js';

/** Figures to embed; every one is optional and its section says so when it is missing. */
export interface ReportFigures {
  /** Training loss and validation accuracy (SVG document). */
  curves?: string;
  /** Confusion heatmap (SVG document). */
  confusion?: string;
  /** t-SNE map of the penultimate-layer features (SVG document). */
  tsne?: string;
  /** Network vs reader Venn diagram (SVG document). */
  venn?: string;
  /** First-layer filters: PNG bytes or a `data:image/png` URI. */
  conv1Filters?: Uint8Array | string;
  /** Thumbnails of misclassified test images as `data:` URIs, keyed by `MisclassifiedCase.path`. */
  thumbnails?: Record<string, string>;
  /** One-vs-rest ROC curves (SVG document). */
  roc?: string;
  /** Learning curve, transfer against from scratch with bands (SVG document). */
  learningCurve?: string;
  /** Grad-CAM overlays as `data:` URIs, keyed by the image's path (`report.saliency[].path`). */
  saliency?: Record<string, string>;
  /** One-line captions shown under a figure, keyed like the fields above (e.g. the t-SNE settings). */
  captions?: Partial<Record<'curves' | 'confusion' | 'tsne' | 'venn' | 'conv1Filters' | 'saliency', string>>;
}

export interface HtmlOptions {
  /** At most this many gallery cards (100 by default); report.json lists them all. */
  maxGallery?: number;
  /** At most this many excluded images listed (500 by default). */
  maxExcluded?: number;
}

/** Ids of the page's sections, in order; tests and links rely on them. */
export const SECTION_IDS = [
  'summary',
  'configuration',
  'dataset',
  'accuracy',
  'learning-curve',
  'per-class',
  'roc',
  'confusion',
  'training',
  'fine-tune',
  'reader',
  'filters',
  'tsne',
  'saliency',
  'misclassified',
  'excluded',
  'timing',
] as const;

/**
 * Order of the misclassified gallery: cases the second reader got right first
 * (the network's instructive mistakes), then those the reader also got wrong,
 * then those without a reader label; within a group by true class, then path.
 * Stable, so callers can pick the first N to make thumbnails for.
 */
export function galleryOrder(cases: readonly MisclassifiedCase[]): MisclassifiedCase[] {
  const group = (c: MisclassifiedCase): number => (c.reader === undefined ? 2 : c.reader === c.true ? 0 : 1);
  return [...cases].sort((a, b) => group(a) - group(b) || cmp(a.true, b.true) || cmp(a.path, b.path));
}

/**
 * The whole report as one self-contained HTML page: inline CSS, SVG figures
 * inline, PNGs as `data:` URIs, no script and no external request (a
 * Content-Security-Policy forbids any), so it opens offline and can be mailed
 * as one file. Every value from the data is escaped.
 */
export function renderReportHtml(report: Report, figures: ReportFigures = {}, options: HtmlOptions = {}): string {
  const title = report.title ?? 'Transfer-learning experiment report';
  const parts = [
    summarySection(report),
    configurationSection(report),
    datasetSection(report),
    accuracySection(report),
    learningCurveSection(report, figures),
    perClassSection(report),
    rocSection(report, figures),
    figureSection('confusion', 'Confusion matrix', figures.confusion, figures.captions?.confusion, 'Counts of test images; rows are the true class, columns the prediction. Colour is the share of the row.'),
    figureSection('training', 'Training curves', figures.curves, figures.captions?.curves, `Average training loss per iteration and accuracy on the validation split (the test split was not looked at during training). ${report.training.iterations} iterations${report.training.batch_size ? `, batch ${report.training.batch_size}` : ''}.`),
    fineTuneSection(report),
    readerSection(report, figures),
    filtersSection(figures),
    figureSection('tsne', 't-SNE map of the penultimate-layer features', figures.tsne, figures.captions?.tsne, 'Training images placed so that images with similar features sit close; overlapping colours mark classes the features confuse.'),
    saliencySection(report, figures),
    gallerySection(report, figures, options.maxGallery ?? 100),
    excludedSection(report, options.maxExcluded ?? 500),
    timingSection(report),
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
${report.run_id ? `<meta name="run-id" content="${escapeXml(report.run_id)}">\n` : ''}<title>${escapeXml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeXml(title)}</h1>
${report.synthetic ? '<div class="banner" role="alert"><strong>Synthetic demo run.</strong> The images are generated, not real ultrasound: the numbers below only show that the pipeline works and say nothing about medical performance.</div>\n' : ''}<p class="meta">${[report.created ? `finished ${escapeXml(report.created)}` : '', report.run_id ? `run ${escapeXml(report.run_id)}` : ''].filter(Boolean).join(' &middot; ')}</p>
<nav>${SECTION_IDS.map((id) => `<a href="#${id}">${escapeXml(SECTION_TITLES[id])}</a>`).join(' ')}</nav>
</header>
<main>
${parts.join('\n')}
</main>
</body>
</html>
`;
}

const SECTION_TITLES: Record<(typeof SECTION_IDS)[number], string> = {
  summary: 'Summary',
  configuration: 'Configuration',
  dataset: 'Data',
  accuracy: 'Test accuracy',
  'learning-curve': 'Learning curve',
  'per-class': 'Per class',
  roc: 'ROC',
  confusion: 'Confusion',
  training: 'Training',
  'fine-tune': 'Fine-tuning',
  reader: 'Second reader',
  filters: 'conv1 filters',
  tsne: 't-SNE',
  saliency: 'Saliency',
  misclassified: 'Misclassified',
  excluded: 'Excluded',
  timing: 'Timing',
};

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fff;line-height:1.45}
header,main{max-width:1100px;margin:0 auto;padding:0 20px}
h1{margin:24px 0 8px;font-size:26px}
h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}
nav a{margin-right:10px;font-size:13px;color:#1f5fa8;text-decoration:none}
.meta{color:#666;font-size:13px;margin:0 0 8px}
.banner{background:#fff3cd;border:2px solid #e0a800;color:#5c4400;padding:12px 16px;margin:12px 0;border-radius:4px;font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #ddd;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{background:#f3f5f8}
tr.total td{font-weight:bold;background:#fafafa}
.big{font-size:34px;font-weight:bold;margin:4px 0}
.figure{overflow-x:auto;margin:8px 0}
.figure svg,.figure img{max-width:100%;height:auto}
.caption,.note{color:#555;font-size:13px}
.missing{color:#888;font-style:italic}
img.filters{image-rendering:pixelated;border:1px solid #ccc}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px}
.card{border:1px solid #ddd;border-radius:4px;padding:6px;font-size:12px;background:#fafafa}
.card img{width:100%;height:auto;image-rendering:auto;background:#000}
.card .path{color:#777;word-break:break-all}
.right{color:#2a7a2a}.wrong{color:#b22222}
code{font-size:12px}
`;

function section(id: (typeof SECTION_IDS)[number], body: string): string {
  return `<section id="${id}">\n<h2>${escapeXml(SECTION_TITLES[id])}</h2>\n${body}\n</section>`;
}

function summarySection(r: Report): string {
  const curve = r.learning_curve?.length
    ? `<li>Transfer against from scratch by labelled training studies per class: ${r.learning_curve
        .map((p) => `<strong>${escapeXml(String(p.studies_per_class))}</strong>: ${withCI(p.transfer)}${p.scratch ? ` vs ${withCI(p.scratch)}` : ''}`)
        .join('; ')} (mean of seeded draws, 95% CI).</li>`
    : '';
  const items = [
    curve,
    `<li>Test accuracy <strong>${pct(r.test.accuracy)}</strong> (95% CI ${pct(r.test.ci95[0])} to ${pct(r.test.ci95[1])}) on ${r.test.count} test images.</li>`,
    r.baseline
      ? `<li>Trained from scratch on the same split (baseline): <strong>${pct(r.baseline.accuracy)}</strong> (95% CI ${pct(r.baseline.ci95[0])} to ${pct(r.baseline.ci95[1])}); ${escapeXml(r.baseline.architecture)}, ${r.baseline.iterations} iterations.</li>`
      : '',
    r.test.auc === undefined || r.test.auc === null ? '' : `<li>Macro AUC (one class against the rest) ${fixed(r.test.auc, 3)}${r.test.auc_ci95 ? ` (95% CI ${fixed(r.test.auc_ci95[0], 3)} to ${fixed(r.test.auc_ci95[1], 3)})` : ''}.</li>`,
    r.fine_tune ? `<li>Fine-tuned from <code>${escapeXml(r.fine_tune.from)}</code> on: <strong>${pct(r.fine_tune.test.accuracy)}</strong> (95% CI ${pct(r.fine_tune.test.ci95[0])} to ${pct(r.fine_tune.test.ci95[1])}) against ${pct(r.test.accuracy)} with the base frozen.</li>` : '',
    r.reader ? `<li>Second reader: <strong>${pct(r.reader.accuracy)}</strong> on ${r.reader.count} of the same images; both wrong on ${r.reader.venn.neither}.</li>` : '',
    `<li>${r.classes.length} classes; ${r.dataset.counts.total.images} images from ${r.dataset.counts.total.studies} studies (${r.dataset.counts.excluded} excluded).</li>`,
    `<li>Total time ${seconds(r.timing.total_seconds)}; ${fixed(r.timing.features_per_second, 1)} feature vectors per second.</li>`,
  ];
  return section('summary', `<ul>${items.filter(Boolean).join('')}</ul>`);
}

function configurationSection(r: Report): string {
  const rows = flatten(r.config);
  const body = rows.length === 0 ? '<p class="missing">No configuration recorded.</p>' : table(['setting', 'value'], rows.map(([k, v]) => [`<code>${escapeXml(k)}</code>`, escapeXml(v)]));
  return section('configuration', body);
}

function datasetSection(r: Report): string {
  const c = r.dataset.counts;
  const counts = table(
    ['split', 'images', 'studies'],
    [
      ['train', c.train.images, c.train.studies],
      ['validation', c.validation.images, c.validation.studies],
      ['test', c.test.images, c.test.studies],
    ].map((row) => row.map((v) => escapeXml(String(v)))),
    ['total', String(c.total.images), String(c.total.studies)],
  );
  const sum = (key: 'train' | 'validation' | 'test' | 'total'): string => String(r.dataset.split.reduce((s, row) => s + row[key], 0));
  const split = table(
    ['class', 'train', 'validation', 'test', 'total'],
    r.dataset.split.map((row) => [escapeXml(row.class), String(row.train), String(row.validation), String(row.test), String(row.total)]),
    ['total', sum('train'), sum('validation'), sum('test'), sum('total')],
  );
  const source = r.dataset.source ? `<p>Source: <code>${escapeXml(r.dataset.source)}</code></p>` : '';
  const problems = r.dataset.problems.length ? `<h3>Problems found</h3><ul>${r.dataset.problems.map((p) => `<li>${escapeXml(p)}</li>`).join('')}</ul>` : '';
  return section('dataset', `${source}<p>Split by study: no study has images on two sides.</p>${counts}${split}${problems}`);
}

function accuracySection(r: Report): string {
  const right = Math.round(r.test.accuracy * r.test.count);
  const studies = r.test.studies === undefined ? '' : ` over ${r.test.studies} studies`;
  const macro = r.test.macro ? `<p>Macro averages: precision ${pct(r.test.macro.precision)}, recall ${pct(r.test.macro.recall)}, F1 ${pct(r.test.macro.f1)}.</p>` : '';
  return section(
    'accuracy',
    `<p class="big">${pct(r.test.accuracy)}</p><p>${right} of ${r.test.count} test images right. 95% confidence interval ${pct(r.test.ci95[0])} to ${pct(r.test.ci95[1])} (percentile bootstrap resampling whole studies${studies}, since images of one study are correlated).</p>${macro}`,
  );
}

function perClassSection(r: Report): string {
  const rows = r.test.per_class.map((m) => [escapeXml(m.class), pct(m.precision), pct(m.recall), pct(m.f1), String(m.support)]);
  return section('per-class', `${table(['class', 'precision', 'recall', 'F1', 'support'], rows)}<p class="note">A class never predicted has precision 0, a class with no test images recall 0 (0/0 is counted as 0).</p>`);
}

function figureSection(id: 'confusion' | 'training' | 'tsne', heading: string, svg: string | undefined, caption: string | undefined, explanation: string): string {
  const figure = svg ? `<div class="figure" role="figure" aria-label="${escapeXml(heading)}">${inlineSvg(svg)}</div>` : '<p class="missing">Figure not produced in this run.</p>';
  return section(id, `<p>${escapeXml(explanation)}</p>${figure}${caption ? `<p class="caption">${escapeXml(caption)}</p>` : ''}`);
}

function readerSection(r: Report, figures: ReportFigures): string {
  if (!r.reader) return section('reader', '<p class="missing">No second reader in this run (give <code>--reader-labels CSV</code> with columns path, label).</p>');
  const v = r.reader.venn;
  const network = r.reader.network_accuracy;
  const rows = [
    ['both right', String(v.bothRight)],
    ['network only', String(v.networkOnly)],
    ['reader only', String(v.readerOnly)],
    ['neither', String(v.neither)],
  ];
  const p = r.reader.mcnemar_p === undefined ? '' : `<p>Exact McNemar test on the ${v.networkOnly + v.readerOnly} cases where they disagree: p = ${r.reader.mcnemar_p < 0.001 ? r.reader.mcnemar_p.toExponential(1) : r.reader.mcnemar_p.toFixed(3)}.</p>`;
  const source = r.reader.source ? ` (labels from <code>${escapeXml(r.reader.source)}</code>)` : '';
  const unmatched = r.reader.unmatched?.length ? `<p class="note">${r.reader.unmatched.length} reader label(s) matched no test image or class: ${r.reader.unmatched.slice(0, 20).map((u) => `<code>${escapeXml(u)}</code>`).join(', ')}${r.reader.unmatched.length > 20 ? ', ...' : ''}</p>` : '';
  const figure = figures.venn ? `<div class="figure" role="figure" aria-label="Venn diagram">${inlineSvg(figures.venn)}</div>` : '<p class="missing">Venn diagram not produced in this run.</p>';
  return section(
    'reader',
    `<p>Reader accuracy <strong>${pct(r.reader.accuracy)}</strong>${network === undefined ? '' : ` vs network <strong>${pct(network)}</strong>`} on the ${r.reader.count} test images the reader labelled${source}.</p>${p}${table(['cases', 'count'], rows)}${figure}${figures.captions?.venn ? `<p class="caption">${escapeXml(figures.captions.venn)}</p>` : ''}${unmatched}`,
  );
}

function filtersSection(figures: ReportFigures): string {
  const src = figures.conv1Filters === undefined ? undefined : typeof figures.conv1Filters === 'string' ? figures.conv1Filters : pngDataUri(figures.conv1Filters);
  const img = src ? `<div class="figure"><img class="filters" alt="first convolutional layer filters" src="${escapeXml(src)}"></div>` : '<p class="missing">Filters not available in this run.</p>';
  const caption = figures.captions?.conv1Filters ? `<p class="caption">${escapeXml(figures.captions.conv1Filters)}</p>` : '';
  return section('filters', `<p>The weights of the first convolutional layer, one tile per filter (frozen during training). Filters learnt on ImageNet show edges and colour blobs at various orientations.</p>${img}${caption}`);
}

function gallerySection(r: Report, figures: ReportFigures, max: number): string {
  const cases = galleryOrder(r.test.misclassified ?? []);
  if (cases.length === 0) return section('misclassified', `<p class="missing">${r.test.misclassified ? 'No misclassified test images.' : 'No list of misclassified images in this run.'}</p>`);
  const thumbs = figures.thumbnails ?? {};
  const shown = cases.slice(0, max);
  const cards = shown.map((c) => {
    const img = thumbs[c.path] ? `<img alt="${escapeXml(c.path)}" src="${escapeXml(thumbs[c.path]!)}">` : '<p class="missing">no image</p>';
    const cam = figures.saliency?.[c.path] ? `<img alt="Grad-CAM of ${escapeXml(c.path)}" src="${escapeXml(figures.saliency[c.path]!)}">` : '';
    const prob = c.probability === undefined ? '' : ` (${pct(c.probability, 0)})`;
    const reader = c.reader === undefined ? '' : `<div>reader: <span class="${c.reader === c.true ? 'right' : 'wrong'}">${escapeXml(c.reader)}</span></div>`;
    return `<div class="card">${img}${cam}<div>true: <strong>${escapeXml(c.true)}</strong></div><div>network: <span class="wrong">${escapeXml(c.predicted)}</span>${prob}</div>${reader}<div class="path">${escapeXml(c.path)}</div></div>`;
  });
  const more = cases.length > shown.length ? `<p class="note">Showing ${shown.length} of ${cases.length}; report.json lists all.</p>` : '';
  const readerNote = cases.some((c) => c.reader !== undefined) ? ' Those the second reader got right come first.' : '';
  return section('misclassified', `<p>${cases.length} test images the network got wrong.${readerNote}</p><div class="gallery">${cards.join('')}</div>${more}`);
}

function learningCurveSection(r: Report, figures: ReportFigures): string {
  const points = r.learning_curve;
  if (!points?.length) return section('learning-curve', '<p class="missing">No learning curve in this run (give <code>--learning-curve 2,4,8,16,all</code>).</p>');
  const withScratch = points.some((p) => p.scratch);
  const rows = points.map((p) => [
    escapeXml(String(p.studies_per_class)),
    withCI(p.transfer),
    ...(withScratch ? [p.scratch ? withCI(p.scratch) : 'n/a'] : []),
  ]);
  const figure = figures.learningCurve ? `<div class="figure" role="figure" aria-label="Learning curve">${inlineSvg(figures.learningCurve)}</div>` : '';
  return section(
    'learning-curve',
    `<p>How much labelled data does the pretrained base save? The head${withScratch ? ' and the from-scratch baseline were' : ' was'} retrained on a few labelled training studies of each class (${escapeXml(String(r.config.learningCurveDraws ?? 'several'))} seeded draws per point, all images of a drawn study kept) and tested on the same test split. Accuracy is the mean over the draws; the interval pools the draws' bootstrap resamples over test studies, so it holds both the luck of the draw and the test split's sampling error.</p>` +
      `${table(['studies per class', 'transfer (95% CI)', ...(withScratch ? ['from scratch (95% CI)'] : [])], rows)}${figure}`,
  );
}

function rocSection(r: Report, figures: ReportFigures): string {
  const auc = r.test.auc;
  if (auc === undefined) return section('roc', '<p class="missing">No ROC analysis in this run.</p>');
  const ci = r.test.auc_ci95 ? ` (95% CI ${fixed(r.test.auc_ci95[0], 3)} to ${fixed(r.test.auc_ci95[1], 3)}, cluster bootstrap over test studies)` : '';
  const rows = r.test.per_class.map((m, k) => [escapeXml(m.class), m.auc === null ? 'n/a' : fixed(m.auc, 3), pct(m.recall), r.test.specificity ? pct(r.test.specificity[k]!) : 'n/a', String(m.support)]);
  const figure = figures.roc ? `<div class="figure" role="figure" aria-label="ROC curves">${inlineSvg(figures.roc)}</div>` : '';
  return section(
    'roc',
    `<p>Each class against the rest, from the network's probability for it: macro-averaged AUC <strong>${auc === null ? 'n/a' : fixed(auc, 3)}</strong>${ci}. Sensitivity is the share of a class's images called that class; specificity the share of the other images not called it (both at the network's choice, the most probable class).</p>` +
      `${table(['class', 'AUC', 'sensitivity', 'specificity', 'support'], rows)}${figure}`,
  );
}

function fineTuneSection(r: Report): string {
  const f = r.fine_tune;
  if (!f) return section('fine-tune', '<p class="missing">The base stayed frozen in this run (give <code>--fine-tune-from LAYER</code> to train its last layers too).</p>');
  const v = r.fine_tune_validation;
  const validation = v ? ` ${v.iterations} iterations; validation accuracy went from ${pct(v.before)} (head alone) to ${pct(v.after)} (the weights kept: the best validation, so fine-tuning that does not help leaves the head's).` : '';
  const rows = [
    ['frozen base, head retrained', withCI(r.test)],
    [`fine-tuned from <code>${escapeXml(f.from)}</code>`, withCI(f.test)],
  ];
  return section(
    'fine-tune',
    `<p>After the head, the base's layers from <code>${escapeXml(f.from)}</code> on were trained as well, on the training images with a random crop and mirror each time (not on cached features), with Caffe's lr_mult semantics (the layers before it have lr_mult 0), in ${seconds(f.seconds)}.${validation} Same test split:</p>${table(['model', 'test accuracy (95% CI)'], rows)}`,
  );
}

function saliencySection(r: Report, figures: ReportFigures): string {
  const entries = r.saliency ?? [];
  if (entries.length === 0) return section('saliency', '<p class="missing">No saliency maps in this run.</p>');
  const uris = figures.saliency ?? {};
  const wrong = new Set((r.test.misclassified ?? []).map((m) => m.path));
  const right = entries.filter((e) => !wrong.has(e.path));
  const cards = right.map((e) => {
    const img = uris[e.path] ? `<img alt="Grad-CAM of ${escapeXml(e.path)}" src="${escapeXml(uris[e.path]!)}">` : `<p class="missing">${escapeXml(e.file)}</p>`;
    return `<div class="card">${img}<div>${escapeXml(e.class)} <span class="right">(right)</span></div><div class="path">${escapeXml(e.path)}</div></div>`;
  });
  const caption = figures.captions?.saliency ? `<p class="caption">${escapeXml(figures.captions.saliency)}</p>` : '';
  return section(
    'saliency',
    `<p>Where does the network look? Grad-CAM weighs the last convolution's maps by the gradient of the predicted class's score and keeps the positive part: bright regions are the evidence for the prediction. Shown here for a few correctly classified test images per class; every misclassified one has its map beside it in the gallery below. The files are listed under <code>saliency</code> in report.json.</p>${caption}<div class="gallery">${cards.join('')}</div>`,
  );
}

function withCI(x: { accuracy: number; ci95: [number, number] }): string {
  return `${pct(x.accuracy)} (${pct(x.ci95[0])} to ${pct(x.ci95[1])})`;
}

function excludedSection(r: Report, max: number): string {
  const list = r.dataset.excluded;
  if (list.length === 0) return section('excluded', '<p>No images were excluded or unreadable.</p>');
  const rows = list.slice(0, max).map((e) => [`<code>${escapeXml(e.path)}</code>`, escapeXml(e.reason)]);
  const more = list.length > max ? `<p class="note">Showing ${max} of ${list.length}; report.json lists all.</p>` : '';
  return section('excluded', `<p>${list.length} image(s) left out of the experiment.</p>${table(['image', 'reason'], rows)}${more}`);
}

function timingSection(r: Report): string {
  const t = r.timing;
  const rows: string[][] = [
    ['total', seconds(t.total_seconds)],
    ['feature vectors per second', fixed(t.features_per_second, 2)],
  ];
  for (const [key, value] of Object.entries(t)) {
    if (key === 'total_seconds' || key === 'features_per_second') continue;
    rows.push([escapeXml(key.replace(/_/g, ' ')), key.endsWith('_seconds') ? seconds(value) : fixed(value, 3)]);
  }
  return section('timing', table(['measure', 'value'], rows));
}

/** An SVG document ready to sit inside HTML: no XML prolog or doctype, and no namespace URL (HTML puts <svg> in the SVG namespace itself). */
export function inlineSvg(svg: string): string {
  return svg
    .replace(/<\?xml[^>]*\?>\s*/g, '')
    .replace(/<!DOCTYPE[^>]*>\s*/gi, '')
    .replace(/\s+xmlns(:\w+)?="[^"]*"/g, '');
}

/** A table; cells are HTML already escaped by the caller. */
function table(head: readonly string[], rows: readonly (readonly string[])[], total?: readonly string[]): string {
  const th = head.map((h) => `<th>${escapeXml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  const foot = total ? `<tr class="total">${total.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>` : '';
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}${foot}</tbody></table>`;
}

/** Nested configuration as [dotted.key, value] rows; arrays and leaves as compact JSON. */
function flatten(value: { [key: string]: JsonValue }, prefix = ''): [string, string][] {
  const rows: [string, string][] = [];
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) rows.push(...flatten(v, name));
    else rows.push([name, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  return rows;
}

function pct(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : 'n/a';
}

function fixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return 'n/a';
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m} min ${Math.round(s - 60 * m)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
