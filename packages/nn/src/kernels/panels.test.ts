import { describe, expect, it } from 'vitest';
import { eachPanelRun } from './panels.js';

function runs(num: number, panels: number, parts: number): [number, number, number][][] {
  return Array.from({ length: parts }, (_, part) => {
    const visited: [number, number, number][] = [];
    eachPanelRun(num, panels, part, parts, (n, first, end) => visited.push([n, first, end]));
    return visited;
  });
}

describe('eachPanelRun: a batch of images x output panels in equal runs', () => {
  it('whole images when they divide evenly: 4 images of 3 panels in 2 parts', () => {
    expect(runs(4, 3, 2)).toEqual([
      [[0, 0, 3], [1, 0, 3]],
      [[2, 0, 3], [3, 0, 3]],
    ]);
  });

  it('batch 1 cut between panels: 1 image of 5 panels in 2 parts (3 + 2)', () => {
    expect(runs(1, 5, 2)).toEqual([[[0, 0, 3]], [[0, 3, 5]]]);
  });

  it('a run across images: 3 images of 5 panels in 2 parts (8 + 7)', () => {
    expect(runs(3, 5, 2)).toEqual([
      [[0, 0, 5], [1, 0, 3]],
      [[1, 3, 5], [2, 0, 5]],
    ]);
  });
});
