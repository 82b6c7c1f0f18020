import { formatShape } from '@cnn/tensor';
import type { Blob } from '../blob.js';
import { Layer, type SetupContext } from '../layer.js';

/** Input parameters (Caffe's InputParameter): one shape for all tops, one per top, or none. */
export interface InputParams {
  shape?: Array<{ dim: number[] }>;
}

/**
 * The entry point of a deployed net: no bottoms, tops of the given shapes, e.g.
 * `shape: [{ dim: [10, 3, 227, 227] }]`. The caller writes the tops' data; forward and
 * backward do nothing. The shapes are set once at setup, so a caller may reshape the
 * tops later (another batch size) and the layer keeps out of the way.
 */
export class InputLayer extends Layer {
  readonly type = 'Input';
  readonly shape: ReadonlyArray<{ dim: readonly number[] }>;

  constructor(name: string, params: InputParams = {}) {
    super(name);
    this.shape = params.shape ?? [];
  }

  override setup(bottom: readonly Blob[], top: readonly Blob[], _context?: SetupContext): void {
    this.expectBlobs(bottom, top, 0, [1, Infinity]);
    const shapes = this.shape.length;
    if (shapes > 1 && shapes !== top.length) {
      throw this.error(`needs one shape for all tops or one per top: got ${shapes} shapes for ${top.length} tops`);
    }
    if (shapes === 0) return;
    top.forEach((blob, i) => {
      const dim = this.shape[shapes === 1 ? 0 : i]!.dim;
      if (!dim.every((d) => Number.isInteger(d) && d >= 0)) throw this.error(`top '${blob.name}' has an invalid shape ${formatShape(dim)}`);
      blob.reshape(dim);
    });
  }

  reshape(_bottom: readonly Blob[], _top: readonly Blob[]): void {}

  forward(_bottom: readonly Blob[], _top: readonly Blob[]): void {}

  backward(_top: readonly Blob[], _propagateDown: readonly boolean[], _bottom: readonly Blob[]): void {}
}
