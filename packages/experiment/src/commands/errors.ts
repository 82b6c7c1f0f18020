/**
 * A `cnn` command cannot do what it was asked as given: a missing or contradictory option, an
 * input file of the wrong size or kind, an output folder that cannot be written. Problems inside
 * a model file are CaffeFormatError / ShapeError / LayerError from the packages instead.
 */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/**
 * A model download failed: the server refused, the connection broke (the partial file is kept
 * for a resume), or the finished file does not have the published checksum (it is deleted).
 */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}
