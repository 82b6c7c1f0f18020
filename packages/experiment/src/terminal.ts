/**
 * Text read from files (CSV cells and headers, layer and blob names, file names, labels) ends up
 * in messages. Printed raw, a control character in it drives the terminal: `ESC [ 2 J` clears
 * the screen, `ESC ] 52` can write the clipboard, a carriage return overwrites the line with a
 * forged one. Every line `cnn` prints goes through escapeControl, so whatever a file holds
 * shows as visible escapes.
 */

/**
 * C0 controls (U+0000-U+001F), DEL, C1 controls (U+0080-U+009F, which include the one-byte CSI
 * U+009B) and the bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) that can
 * reorder what is shown. A tab and, where `newlines` is set, a line feed are kept.
 */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with each control character written as `\xNN` (or `\uNNNN` above U+00FF).
 * @param newlines keep line feeds (multi-line output such as `cnn inspect`'s table); error lines
 *   escape them too, so a file cannot forge a second line
 */
export function escapeControl(text: string, newlines = false): string {
  return text.replace(CONTROL, (c) => {
    if (c === '\n' && newlines) return c;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Prints `text` (one or more lines) on stdout with its control characters escaped. */
export function printEscaped(text: string): void {
  console.log(escapeControl(text, true));
}

/** Writes `cnn: <Type>: <message>` as one line on stderr, its control characters (line feeds too) escaped. */
export function printError(error: Error): void {
  process.stderr.write(`cnn: ${escapeControl(error.name)}: ${escapeControl(error.message)}\n`);
}

/** Writes a note (what a command did besides its result) on stderr, escaped like everything else. */
export function printNote(text: string): void {
  process.stderr.write(`${escapeControl(text, true)}\n`);
}
