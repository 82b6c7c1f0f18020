import { defineKernels } from '@cnn/tensor';
import { filterRun, outputRun, tileRun } from './transforms.js';
import { filterRunWasm, outputRunWasm, splitPhasesWasm, tileRunWasm } from './wasm.js';
import { splitPhases } from './phases.js';
import { filterRunJs, outputRunJs, tileRunJs } from './unrolled.js';

export type { WinogradInput, WinogradOutput, WinogradRun } from './transforms.js';
export { F2X2_3X3, F2X2_5X5, winogradTileOf, type WinogradTile } from './tiles.js';

/**
 * The transforms of a Winograd tile (tiles.ts) by backend (the algorithm around them is
 * fast.ts, which only the fast convolution runs): U = G g G^T of runs of filters, V = B^T d B
 * of the tiles of runs of input planes, Y = A^T M A + bias of runs of output planes; and the
 * split of a strided convolution's input into its phases (phases.ts).
 */
export const { winogradFilters, winogradTiles, winogradOutputs, winogradPhases } = defineKernels({
  winogradFilters: { reference: filterRun, js: filterRunJs, wasm: filterRunWasm },
  winogradTiles: { reference: tileRun, js: tileRunJs, wasm: tileRunWasm },
  winogradOutputs: { reference: outputRun, js: outputRunJs, wasm: outputRunWasm },
  winogradPhases: { reference: splitPhases, wasm: splitPhasesWasm },
});
