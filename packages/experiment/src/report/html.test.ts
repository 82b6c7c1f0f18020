import { describe, expect, it } from 'vitest';
import { Rng } from '@cnn/tensor';
import { galleryOrder, renderReportHtml, SECTION_IDS } from './html.js';
import { buildFigures } from './figures.js';
import { galleryThumbnail } from './png.js';
import { parseXml } from './testing/xml.js';
import { sampleReport } from './testing/fixture.js';

function fullPage(overrides = {}): string {
  const report = sampleReport(overrides);
  const rng = new Rng(1);
  const thumbnails = Object.fromEntries(['a.png', 'b.png', 'c.png'].map((p) => [p, galleryThumbnail(new Float32Array(64 * 64).map(() => rng.int(256)), 64, 64)]));
  const { figures } = buildFigures(report, {
    tsne: { embedding: Float64Array.from({ length: 12 }, (_, i) => Math.sin(i)), labels: [0, 1, 2, 0, 1, 2], caption: 'perplexity 30' },
    conv1: { weights: new Float32Array(4 * 3 * 3 * 3).map((_, i) => Math.cos(i)), shape: [4, 3, 3, 3], channelOrder: 'BGR' },
    thumbnails,
    readerName: 'radiologist',
  });
  return renderReportHtml(report, figures);
}

describe('renderReportHtml', () => {
  const html = fullPage();

  it('has every section, in order', () => {
    let last = -1;
    for (const id of SECTION_IDS) {
      const at = html.indexOf(`<section id="${id}">`);
      expect(at, id).toBeGreaterThan(last);
      last = at;
    }
  });

  it('is self-contained: no external http(s) URL, every image a data: URI, no script, a CSP that forbids fetching', () => {
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    const sources = [...html.matchAll(/\ssrc="([^"]*)"/g)].map((m) => m[1]!);
    expect(sources.length).toBe(4); // conv1 + three thumbnails
    for (const src of sources) expect(src.startsWith('data:image/png;base64,')).toBe(true);
    expect(html).toContain(`content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"`);
  });

  it('inlines every SVG figure as well-formed markup', () => {
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(4); // confusion, curves, venn, t-SNE
    for (const svg of svgs) expect(parseXml(svg).name).toBe('svg');
  });

  it('escapes every value from the data', () => {
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('x/&lt;script&gt;alert(1)&lt;/script&gt;.png');
    expect(html).toContain('kidney left &lt;long&gt;');
    expect(html).not.toContain('kidney left <long>');
  });

  it('shows the synthetic banner, the accuracy with its interval, the split table and the timings', () => {
    expect(html).toContain('class="banner"');
    expect(html).toContain('Synthetic demo run.');
    expect(html).toContain('50.0%');
    expect(html).toContain('25.0% to 75.0%');
    expect(html).toMatch(/<tr class="total"><td>total<\/td><td>12<\/td><td>3<\/td><td>6<\/td><td>21<\/td><\/tr>/);
    expect(html).toContain('42.3 s');
    expect(html).toContain('extract seconds');
    expect(html).toContain('<code>solver.base_lr</code>');
    expect(html).toContain('<meta name="run-id" content="run-123">');
  });

  it('lists the misclassified cases the reader got right first', () => {
    const gallery = html.slice(html.indexOf('<section id="misclassified">'), html.indexOf('<section id="excluded">'));
    const order = ['b.png', 'c.png', 'a.png'].map((p) => gallery.indexOf(`alt="${p}"`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(gallery).toContain('Those the second reader got right come first.');
  });

  it('says what is missing without a reader, figures or banner', () => {
    const plain = renderReportHtml(sampleReport({ synthetic: false, reader: undefined }));
    expect(plain).not.toContain('class="banner"');
    expect(plain).toContain('No second reader in this run');
    expect(plain).toContain('Figure not produced in this run.');
    expect(plain).toContain('Filters not available in this run.');
    for (const id of SECTION_IDS) expect(plain).toContain(`<section id="${id}">`);
  });
});

describe('galleryOrder', () => {
  it('puts reader-right first, then reader-wrong, then no reader; by true class and path within', () => {
    const ordered = galleryOrder([
      { path: 'z', true: 'b', predicted: 'a' },
      { path: 'y', true: 'b', predicted: 'a', reader: 'a' },
      { path: 'x', true: 'b', predicted: 'a', reader: 'b' },
      { path: 'w', true: 'a', predicted: 'b', reader: 'a' },
    ]);
    expect(ordered.map((c) => c.path)).toEqual(['w', 'x', 'y', 'z']);
  });
});
