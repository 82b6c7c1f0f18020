/** The labeller cannot start as asked: a bad option, an unreadable list of images, a label file held by another run. */
export class LabelError extends Error {
  override readonly name = 'LabelError';
}

/**
 * A request the server refuses. `status` is the HTTP status sent back (always 4xx: a bad
 * request is the client's mistake and must never take the server down).
 */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}
