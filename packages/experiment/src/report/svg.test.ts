import { describe, expect, it } from 'vitest';
import { blueRamp, classStyle, escapeXml, formatTick, niceTicks, PALETTE } from './svg.js';
import { lineChart, movingAverage, trainingCurvesChart } from './line-chart.js';
import { confusionHeatmap } from './heatmap.js';
import { scatterPlot } from './scatter.js';
import { distanceForOverlap, lensArea, vennDiagram } from './venn.js';
import { findAll, parseXml, textContent, type XmlElement } from './testing/xml.js';

const texts = (root: XmlElement): string[] => findAll(root, 'text').map(textContent);

describe('the XML checker used by these tests', () => {
  it('accepts well-formed markup and rejects the usual mistakes', () => {
    expect(parseXml('<a x="1"><b/>t &amp; &#65;<c y=\'2\'>u</c></a>').name).toBe('a');
    expect(() => parseXml('<a><b></a></b>')).toThrow(/does not close/);
    expect(() => parseXml('<a>x & y</a>')).toThrow(/entity/);
    expect(() => parseXml('<a x=1/>')).toThrow(/attribute/);
    expect(() => parseXml('<a x="1" x="2"/>')).toThrow(/duplicate/);
    expect(() => parseXml('<a/><b/>')).toThrow(/second root/);
    expect(() => parseXml('<a>')).toThrow(/never closed/);
  });
});

describe('svg helpers', () => {
  it('escapes the five XML specials and drops forbidden control characters', () => {
    expect(escapeXml(`a<b & "c" 'd'>\u0001`)).toBe('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
  });

  it('picks 1-2-5 ticks covering the range', () => {
    expect(niceTicks(0, 0.93, 5)).toMatchObject({ min: 0, max: 1, step: 0.2, values: [0, 0.2, 0.4, 0.6, 0.8, 1] });
    expect(niceTicks(0, 1000, 8).step).toBe(200);
    expect(niceTicks(3, 3).values.length).toBeGreaterThan(1);
    expect(formatTick(0.4, 0.2)).toBe('0.4');
    expect(formatTick(400, 200)).toBe('400');
    expect(formatTick(0.25, 0.05)).toBe('0.25');
  });

  it('has at least 12 distinct colours and changes marker shape past the palette', () => {
    expect(new Set(PALETTE).size).toBe(PALETTE.length);
    expect(PALETTE.length).toBeGreaterThanOrEqual(12);
    expect(classStyle(0).shape).toBe('circle');
    expect(classStyle(PALETTE.length)).toEqual({ color: PALETTE[0], shape: 'square' });
  });

  it('ramps from near-white to dark blue', () => {
    expect(blueRamp(0)).toBe('#f7fbff');
    expect(blueRamp(1)).toBe('#08306b');
    expect(blueRamp(Number.NaN)).toBe('#f7fbff');
  });
});

describe('lineChart', () => {
  it('draws two panels with axis labels and legends, as well-formed SVG', () => {
    const svg = lineChart(
      [
        { title: 'Training loss', yLabel: 'loss', series: [{ name: 'train <loss>', x: [0, 1, 2, 3], y: [2.4, 1.5, 0.9, 0.5] }] },
        { title: 'Validation', yLabel: 'accuracy', yFormat: 'percent', yMin: 0, yMax: 1, series: [{ name: 'val acc', x: [0, 2], y: [0.3, 0.7], markers: true }] },
      ],
      { xLabel: 'iteration', title: 'Curves' },
    );
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
    const labels = texts(root);
    for (const label of ['Curves', 'Training loss', 'Validation', 'loss', 'accuracy', 'iteration', 'train <loss>', 'val acc', '100%', '0%']) {
      expect(labels).toContain(label);
    }
    expect(findAll(root, 'path').length).toBe(2);
    expect(findAll(root, 'circle').length).toBe(2);
  });

  it('breaks the line at non-finite values and never writes NaN into the markup', () => {
    const svg = lineChart([{ yLabel: 'loss', series: [{ name: 'loss', x: [0, 1, 2, 3, 4], y: [1, Number.NaN, 0.8, Number.POSITIVE_INFINITY, 0.5] }] }], { xLabel: 'iteration' });
    expect(svg).not.toMatch(/NaN|Infinity/);
    const d = findAll(parseXml(svg), 'path')[0]!.attributes.d!;
    expect(d.match(/M/g)).toHaveLength(3);
  });

  it('shows "no data" for an empty panel', () => {
    const svg = lineChart([{ yLabel: 'loss', series: [{ name: 'loss', x: [], y: [] }] }], { xLabel: 'iteration' });
    expect(texts(parseXml(svg))).toContain('no data');
  });

  it('draws the training curves from a report: raw and smoothed loss, validation accuracy', () => {
    const loss = Array.from({ length: 500 }, (_, i) => 2.4 * Math.exp(-i / 100) + 0.1 * Math.sin(i));
    const svg = trainingCurvesChart({ iterations: 500, loss, validation: [{ iter: 0, accuracy: 0.1 }, { iter: 250, accuracy: 0.7 }, { iter: 499, accuracy: 0.78 }] });
    const labels = texts(parseXml(svg));
    expect(labels).toContain('loss per iteration');
    expect(labels).toContain('moving average (10)');
    expect(labels).toContain('validation accuracy');
  });

  it('moving average averages the trailing window (by hand)', () => {
    expect(movingAverage([1, 2, 3, 4, 5], 2)).toEqual([1, 1.5, 2.5, 3.5, 4.5]);
    expect(movingAverage([2, Number.NaN, 4], 3)).toEqual([2, Number.NaN, 3]);
  });
});

describe('confusionHeatmap', () => {
  const classes = ['kidney left & right', 'liver <right> transverse', 'spleen'];
  const confusion = [
    [5, 1, 0],
    [2, 7, 1],
    [0, 0, 0],
  ];

  it('has one cell per pair with its count, escaped class names and axis titles', () => {
    const root = parseXml(confusionHeatmap(confusion, classes, { title: 'Confusion' }));
    const cells = findAll(root, 'rect').filter((r) => r.attributes.width === '36');
    expect(cells).toHaveLength(9);
    const labels = texts(root);
    for (const name of classes) expect(labels.filter((t) => t === name)).toHaveLength(2); // row and column label
    for (const count of ['5', '1', '2', '7']) expect(labels).toContain(count);
    expect(labels).toContain('predicted class');
    expect(labels).toContain('true class');
    const titles = findAll(root, 'title').map(textContent);
    expect(titles).toContain('true liver <right> transverse, predicted kidney left & right: 2 (20.0% of the row)');
  });

  it('colours by the row-normalised value: equal shares look equal whatever the row size, an empty row stays white', () => {
    const svg = confusionHeatmap([[1, 1], [50, 50]], ['a', 'b']);
    const fills = findAll(parseXml(svg), 'rect').filter((r) => r.attributes.width === '36').map((r) => r.attributes.fill);
    expect(new Set(fills).size).toBe(1);
    expect(fills[0]).toBe(blueRamp(0.5));
    const empty = findAll(parseXml(confusionHeatmap(confusion, classes)), 'rect').filter((r) => r.attributes.width === '36');
    expect(empty.slice(6).every((r) => r.attributes.fill === blueRamp(0))).toBe(true);
  });

  it('rejects a matrix that does not match the classes', () => {
    expect(() => confusionHeatmap([[1, 2]], ['a', 'b'])).toThrow(/2 x 2/);
  });
});

describe('scatterPlot', () => {
  it('draws one marker per point plus a legend with names and counts', () => {
    const points = [0, 0, 1, 1, 2, 0.5, -1, 3, 4, 4];
    const labels = [0, 1, 1, 2, 0];
    const root = parseXml(scatterPlot(points, labels, ['liver', 'kidney', 'spleen "s"'], { title: 't-SNE' }));
    expect(findAll(root, 'circle')).toHaveLength(5 + 3);
    const legend = texts(root);
    expect(legend).toContain('liver (2)');
    expect(legend).toContain('kidney (2)');
    expect(legend).toContain('spleen "s" (1)');
    // Colours come from the palette, one per class.
    const fills = new Set(findAll(root, 'circle').map((c) => c.attributes.fill));
    expect([...fills].sort()).toEqual([PALETTE[0], PALETTE[1], PALETTE[2]].sort());
  });

  it('switches to square markers after 20 classes', () => {
    const classes = Array.from({ length: 22 }, (_, k) => `c${k}`);
    const root = parseXml(scatterPlot([0, 0, 1, 1], [0, 21], classes));
    expect(findAll(root, 'rect').length).toBeGreaterThan(2);
  });

  it('rejects mismatched points and labels', () => {
    expect(() => scatterPlot([0, 0, 1], [0, 1], ['a', 'b'])).toThrow(/expected 4/);
    expect(() => scatterPlot([0, 0], [2], ['a', 'b'])).toThrow(/not a class index/);
  });
});

describe('vennDiagram', () => {
  it('shows the four counts, the totals and both titles (the study: 167 wrong for both)', () => {
    const counts = { bothRight: 925, networkOnly: 175, readerOnly: 156, neither: 167 };
    const root = parseXml(vennDiagram(counts, ['network', 'radiologist'], { title: 'Correct cases' }));
    const labels = texts(root);
    expect(labels).toContain('925');
    expect(labels).toContain('175');
    expect(labels).toContain('156');
    expect(labels.some((t) => t.startsWith('neither right: 167'))).toBe(true);
    expect(labels.some((t) => t.startsWith('network right: 1100'))).toBe(true);
    expect(labels.some((t) => t.startsWith('radiologist right: 1081'))).toBe(true);
    expect(labels).toContain('n = 1423');
    expect(findAll(root, 'circle')).toHaveLength(2);
  });

  it('handles empty sets and no overlap', () => {
    const root = parseXml(vennDiagram({ bothRight: 0, networkOnly: 0, readerOnly: 3, neither: 2 }, ['a', 'b']));
    expect(texts(root)).toContain('0');
    expect(() => vennDiagram({ bothRight: -1, networkOnly: 0, readerOnly: 0, neither: 0 }, ['a', 'b'])).toThrow(/count/);
  });

  it('lens area: containment, separation, and two unit circles one apart (2 pi / 3 - sqrt(3) / 2)', () => {
    expect(lensArea(2, 1, 0.5)).toBeCloseTo(Math.PI, 12);
    expect(lensArea(1, 1, 2)).toBe(0);
    expect(lensArea(1, 1, 1)).toBeCloseTo((2 * Math.PI) / 3 - Math.sqrt(3) / 2, 12);
    const d = distanceForOverlap(3, 2, 5);
    expect(lensArea(3, 2, d)).toBeCloseTo(5, 9);
  });
});
