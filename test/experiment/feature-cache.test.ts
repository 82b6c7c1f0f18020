import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Net } from '@cnn/nn';
import { describe, expect, it } from 'vitest';
import { miniCaffeNet, planTransfer } from '@cnn/experiment';
import { mobilenetRecipe } from '@cnn/experiment/data';
import { decodeEntry, encodeEntry, extractFeatures } from '@cnn/experiment/transfer';

/** A random-weight MiniCaffeNet, its transfer plan, and three distinct 64 x 64 gray images. */
function setup() {
  const def = miniCaffeNet(1, false);
  const net = new Net(def, { phase: 'TEST', seed: 3 });
  const plan = planTransfer(def, net, 2);
  const images = [1, 2, 3].map((k) => ({ width: 64, height: 64, channels: 1 as const, data: new Uint8Array(64 * 64).map((_, i) => (i * k * 7) % 251) }));
  return { net, plan, images, recipe: mobilenetRecipe(64) };
}

describe('the feature cache', () => {
  it('round-trips an entry, and names what is wrong with a damaged one', () => {
    const values = Float32Array.from([1.5, -2, 0, 3e-8]);
    const bytes = encodeEntry(values);
    expect(bytes.length).toBe(32 + 16);
    expect(decodeEntry(bytes, 4)).toEqual(values);
    expect(decodeEntry(bytes, 5)).toBe('it holds 4 values, 5 expected');
    expect(decodeEntry(bytes.subarray(0, 40), 4)).toBe('it is 40 bytes long, 48 expected');
    const flipped = Uint8Array.from(bytes);
    flipped[40]! ^= 0x01;
    expect(decodeEntry(flipped, 4)).toBe('its checksum does not match its values');
    expect(decodeEntry(new Uint8Array(48), 4)).toBe('it does not start with CNNFEAT1');
  });

  it('recomputes a same-length entry whose bytes were damaged, with a note naming it', async () => {
    const { net, plan, images, recipe } = setup();
    const dir = mkdtempSync(join(tmpdir(), 'cnn-fcache-'));
    const cache = { dir, modelKey: 'k' };
    const first = await extractFeatures(net, plan, recipe, images, { cache, quiet: true });
    expect(first.computed).toBe(3);

    const entry = readdirSync(join(dir, 'k')).find((name) => name.endsWith('.feat'))!;
    const bytes = readFileSync(join(dir, 'k', entry));
    // Same length, values changed: a length check alone takes this for a valid entry.
    for (let i = bytes.length - 64; i < bytes.length; i++) bytes[i] = 0xff;
    writeFileSync(join(dir, 'k', entry), bytes);

    const notes: string[] = [];
    const second = await extractFeatures(net, plan, recipe, images, { cache, quiet: true, note: (line) => notes.push(line) });
    expect(second.computed).toBe(1);
    expect(second.features.data).toEqual(first.features.data);
    expect(notes).toEqual([`feature cache: ${join(dir, 'k', entry)} is damaged (its checksum does not match its values); recomputed`]);
  });

  it('measures the rate again when rate.json is empty, naming the file, instead of a SyntaxError', async () => {
    const { net, plan, images, recipe } = setup();
    const dir = mkdtempSync(join(tmpdir(), 'cnn-fcache-'));
    const cache = { dir, modelKey: 'k' };
    await extractFeatures(net, plan, recipe, images, { cache, quiet: true });
    writeFileSync(join(dir, 'k', 'rate.json'), '');

    const notes: string[] = [];
    const again = await extractFeatures(net, plan, recipe, images, { cache, quiet: true, note: (line) => notes.push(line) });
    expect(again.computed).toBe(0);
    expect(again.imagesPerSecond).toBeGreaterThan(0);
    expect(notes).toEqual([`feature cache: ${join(dir, 'k', 'rate.json')} is damaged (not JSON: Unexpected end of JSON input); the rate is measured again on one batch`]);
    const rate = JSON.parse(readFileSync(join(dir, 'k', 'rate.json'), 'utf8')) as { imagesPerSecond: number };
    expect(rate.imagesPerSecond).toBe(again.imagesPerSecond);
  });
});
