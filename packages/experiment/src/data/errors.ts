/** Where a data problem sits: a file or folder, and for a CSV manifest the 1-based line. */
export interface DataLocation {
  file?: string;
  line?: number;
}

/**
 * The data cannot be used as given: a missing source, an unreadable or corrupt image, a CSV
 * without the needed columns, a class without images, a study given two splits, ...
 * The message starts with the file or folder (and CSV line) so it can be found without a debugger.
 */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(message: string, where: DataLocation = {}, options?: ErrorOptions) {
    super(prefix(where) + message, options);
    this.file = where.file;
    this.line = where.line;
  }
}

function prefix({ file, line }: DataLocation): string {
  if (file === undefined) return '';
  return line === undefined ? `${file}: ` : `${file}:${line}: `;
}

/** Libraries throw Errors, strings and plain objects; this gets a readable line out of each. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err !== null && typeof err === 'object' && 'exception' in err) return messageOf(err.exception);
  return String(err);
}

/** An error from the file system (ENOENT, EACCES, EISDIR, ...): it carries a string `code`. */
export function isFileSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}
