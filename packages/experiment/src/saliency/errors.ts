/** A saliency map cannot be made as asked: no such layer or blob, a class out of range, an input of the wrong size. */
export class SaliencyError extends Error {
  override readonly name = 'SaliencyError';
}
