import { createHash } from 'node:crypto';
import {
  blobShape,
  buildNet,
  readCaffemodel,
  readFileShared,
  readNetPrototxtFile,
  shapeCount,
  type NetParameter,
  type WeightReport,
} from '@cnn/caffe-import';
import type { LayerSummary } from '@cnn/nn';
import { findNonFinite } from '@cnn/tensor';

/** Caffemodels recognised by their sha1, with where they come from. */
export const KNOWN_MODELS: Readonly<Record<string, string>> = {
  '4c8d77deb20ea792f84eb5e6d0a11ca0a8660a46':
    'BVLC reference CaffeNet (bvlc_reference_caffenet.caffemodel, 2014, legacy V1 layout; models/bvlc_reference_caffenet/readme.md)',
};

/** Options of `cnn inspect`. */
export interface InspectOptions {
  /** A net definition to build with the weights, for the net's own summary. */
  prototxt?: string;
}

/** One layer as stored in the caffemodel. */
export interface StoredLayer {
  name: string;
  /** The V1 enum name (`CONVOLUTION`) or the V2 type string (`Convolution`), as in the file. */
  type: string;
  bottom: string[];
  top: string[];
  /** Phases the layer is restricted to (`include { phase: TRAIN }`), if any. */
  phase: string | null;
  /** Each blob's shape, value count, and how many of its values are NaN or infinite (with the first). */
  blobs: { shape: number[]; count: number; nonFinite: number; firstNonFinite?: { index: number; value: string } }[];
  parameters: number;
}

/** What `cnn inspect` reports. */
export interface InspectReport {
  file: string;
  bytes: number;
  sha1: string;
  /** The known model this file is (by sha1), or null. */
  knownModel: string | null;
  format: 'V1' | 'V2';
  name: string | null;
  /** Net-level inputs of a V1 file (`input` + `input_dim`), if it has them. */
  inputs: { name: string; shape: number[] | null }[];
  layers: StoredLayer[];
  parameters: number;
  /** Reading and decoding the file (plus building the net, with --prototxt), in milliseconds. */
  loadMs: number;
  /** With --prototxt: the net built from it with these weights. */
  net?: {
    prototxt: string;
    summary: LayerSummary[];
    table: string;
    weights: WeightReport;
  };
}

/**
 * `cnn inspect`: what a `.caffemodel` holds, read the way loadModel reads it (one read into
 * shared memory, blobs viewed in place): the format, every stored layer with its type, blob
 * shapes and parameter count, the file's size and sha1 (naming a known file such as the real
 * CaffeNet), and the time to read it. With a prototxt, the net built from both, as
 * Net.summaryTable shows it, and which layers got weights.
 */
export function runInspect(file: string, options: InspectOptions = {}): InspectReport {
  const started = performance.now();
  const bytes = readFileShared(file);
  const readMs = performance.now() - started;
  // Hashed before decoding: decoding aligns payloads inside the buffer.
  const sha1 = createHash('sha1').update(bytes).digest('hex');
  const decodeStarted = performance.now();
  const model = readCaffemodel(bytes, file, { alignInPlace: true });
  let loadMs = readMs + (performance.now() - decodeStarted);

  const v1 = (model.layers?.length ?? 0) > 0;
  const stored = (v1 ? model.layers! : (model.layer ?? [])).map((layer, index): StoredLayer => {
    const blobs = (layer.blobs ?? []).map((blob) => {
      const shape = blobShape(blob);
      const bad = findNonFinite(blob.data);
      return { shape, count: blob.data.length || shapeCount(shape), nonFinite: bad?.count ?? 0, ...(bad && { firstNonFinite: { index: bad.first, value: String(bad.value) } }) };
    });
    const phases = (layer.include ?? []).map((rule) => rule.phase).filter((p): p is 'TRAIN' | 'TEST' => p !== undefined);
    return {
      name: layer.name ?? `#${index}`,
      type: layer.type ?? '(none)',
      bottom: [...(layer.bottom ?? [])],
      top: [...(layer.top ?? [])],
      phase: phases.length > 0 ? phases.join(',') : null,
      blobs,
      parameters: blobs.reduce((sum, blob) => sum + blob.count, 0),
    };
  });

  const report: InspectReport = {
    file,
    bytes: bytes.length,
    sha1,
    knownModel: KNOWN_MODELS[sha1] ?? null,
    format: v1 ? 'V1' : 'V2',
    name: model.name ?? null,
    inputs: netInputs(model),
    layers: stored,
    parameters: stored.reduce((sum, layer) => sum + layer.parameters, 0),
    loadMs: 0,
  };
  if (options.prototxt !== undefined) {
    const buildStarted = performance.now();
    const { net, weights } = buildNet(readNetPrototxtFile(options.prototxt), model, { file: options.prototxt, weightsFile: file, allowMissingWeights: true, allowNonFinite: true });
    loadMs += performance.now() - buildStarted;
    report.net = { prototxt: options.prototxt, summary: net.summary(), table: net.summaryTable(), weights };
  }
  report.loadMs = Math.round(loadMs * 10) / 10;
  return report;
}

function netInputs(model: NetParameter): { name: string; shape: number[] | null }[] {
  const names = model.input ?? [];
  return names.map((name, i) => {
    const fromShape = model.input_shape?.[i]?.dim;
    const fromDims = model.input_dim && model.input_dim.length >= 4 * (i + 1) ? model.input_dim.slice(4 * i, 4 * i + 4) : undefined;
    return { name, shape: fromShape ? [...fromShape] : (fromDims ?? null) };
  });
}

/** The text `cnn inspect` prints. */
export function formatInspect(report: InspectReport): string {
  const lines = [
    `file     ${report.file}`,
    `size     ${report.bytes.toLocaleString('en-US')} bytes`,
    `sha1     ${report.sha1}${report.knownModel ? `  = ${report.knownModel}` : ''}`,
    `format   ${report.format} (${report.format === 'V1' ? "legacy 'layers', enum types" : "'layer', string types"})`,
    `net      ${report.name ?? '(unnamed)'}, ${report.layers.length} layers, ${report.parameters.toLocaleString('en-US')} parameters`,
    `load     ${report.loadMs.toFixed(0)} ms (read and decode${report.net ? ', build the net' : ''})`,
  ];
  for (const input of report.inputs) lines.push(`input    ${input.name} ${input.shape ? input.shape.join('x') : ''}`);
  lines.push('');
  const rows = report.layers.map((layer) => [
    layer.name,
    layer.type,
    layer.blobs.map((blob) => blob.shape.join('x')).join(' ') || '-',
    layer.parameters.toLocaleString('en-US'),
    layer.phase ?? '',
  ]);
  lines.push(...table(['layer', 'type', 'blobs', 'parameters', 'phase'], rows, [3]));
  const nonFinite = report.layers.flatMap((layer) =>
    layer.blobs.flatMap((blob, i) => (blob.firstNonFinite ? [`${layer.name} blob ${i}: ${blob.nonFinite} of ${blob.count} (${blob.firstNonFinite.value} at index ${blob.firstNonFinite.index})`] : [])),
  );
  if (nonFinite.length > 0) lines.push('', `non-finite values: ${nonFinite.join('; ')}`);
  if (report.net) {
    const { weights } = report.net;
    lines.push('', `net from ${report.net.prototxt}:`, report.net.table, '');
    lines.push(`weights copied: ${weights.copied.join(', ') || '(none)'}`);
    if (weights.ignored.length > 0) lines.push(`in the file but not in the net (ignored): ${weights.ignored.join(', ')}`);
    if (weights.initialised.length > 0) lines.push(`in the net but not in the file (left at their fillers): ${weights.initialised.join(', ')}`);
  }
  return lines.join('\n');
}

/** Aligned columns; those in `right` are right-aligned (numbers). */
function table(header: string[], rows: string[][], right: number[]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const format = (row: string[]): string =>
    row.map((cell, c) => (right.includes(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [format(header), ...rows.map(format)];
}
