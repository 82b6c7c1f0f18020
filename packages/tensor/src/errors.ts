/** Formats a shape as `[2,3,4]` for error messages. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Two shapes do not fit together, or a shape is not valid for an operation.
 * The message always prints the full shapes involved.
 */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

/** An argument is outside the range an operation accepts (a negative size, a bad axis, ...). */
export class ArgumentError extends Error {
  override readonly name = 'ArgumentError';
}

/** A kernel failed inside a worker thread; `cause` holds the worker's error. */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';
}
