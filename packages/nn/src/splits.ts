import type { LayerDef } from './net-def.js';

/**
 * Where one version of a blob is read by several layers, inserts a Split layer
 * after its producer and gives each reader its own copy, so that in backward the
 * readers' gradients are summed instead of overwriting each other (Caffe's
 * insert_splits). A blob version is a producer's top until a later layer
 * re-produces the name (in place, for example).
 *
 * A reader that worked in place on the split blob now reads its copy and writes
 * a new version of the name; it is marked `splitRewritten` so the net accepts that.
 */
export function insertSplits(layers: readonly LayerDef[]): LayerDef[] {
  const latest = new Map<string, string>();
  const readers = new Map<string, { layer: number; bottom: number }[]>();
  layers.forEach((def, i) => {
    (def.bottom ?? []).forEach((name, j) => {
      const version = latest.get(name);
      if (version !== undefined) readers.get(version)!.push({ layer: i, bottom: j });
    });
    (def.top ?? []).forEach((name, k) => {
      latest.set(name, `${i}:${k}`);
      readers.set(`${i}:${k}`, []);
    });
  });

  const renamed = new Map<string, string>();
  const result: LayerDef[] = [];
  layers.forEach((def, i) => {
    const bottom = def.bottom?.map((name, j) => renamed.get(`${i}:${j}`) ?? name);
    const lostInPlace = bottom?.some((name, j) => name !== def.bottom![j] && def.top?.[j] === def.bottom![j]) ?? false;
    result.push(bottom ? { ...def, bottom, ...(lostInPlace ? { splitRewritten: true } : {}) } : def);
    (def.top ?? []).forEach((name, k) => {
      const list = readers.get(`${i}:${k}`)!;
      if (list.length < 2) return;
      const copies = list.map((_, c) => `${name}_${def.name}_${k}_split_${c}`);
      result.push({ name: `${name}_${def.name}_${k}_split`, type: 'Split', bottom: [name], top: copies });
      list.forEach(({ layer, bottom: j }, c) => renamed.set(`${layer}:${j}`, copies[c]!));
    });
  });
  return result;
}
