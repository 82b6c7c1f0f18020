/** A layer definition is not valid: an unknown type, a bad parameter, a wrong number of bottoms or tops. */
export class LayerError extends Error {
  override readonly name = 'LayerError';
}

/** A net definition is not valid: a bottom nobody produces, a duplicate layer name, ... */
export class NetError extends Error {
  override readonly name = 'NetError';
}
