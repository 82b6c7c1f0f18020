import { DatasetError } from './errors.js';

/** One CSV record and the 1-based line it starts on (for messages). */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Parses CSV text (RFC 4180): comma-separated fields; a field in double quotes may hold commas,
 * line breaks and doubled quotes (`""` = `"`); LF or CRLF line ends; a leading UTF-8 BOM is
 * dropped; blank lines are skipped. A quote inside an unquoted field is kept as a character.
 *
 * @throws DatasetError naming the file and line of an unterminated quoted field, or text after a
 *   closing quote
 */
export function parseCsv(text: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let recordStarted = false;

  const endRecord = (): void => {
    fields.push(field);
    // A line with nothing on it is not a record (trailing newline, blank separator lines).
    if (fields.length > 1 || fields[0] !== '' || recordStarted) records.push({ fields, line: recordLine });
    fields = [];
    field = '';
    recordStarted = false;
  };

  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"' && field === '') {
      const startLine = line;
      i++;
      for (;;) {
        if (i >= text.length) throw new DatasetError(`unterminated quoted field (opened on line ${startLine})`, { file, line: startLine });
        const q = text[i]!;
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      recordStarted = true;
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new DatasetError(`text after a closing quote: ${JSON.stringify(text.slice(i, i + 20))}`, { file, line });
      }
      continue;
    }
    if (ch === ',') {
      fields.push(field);
      field = '';
      recordStarted = true;
      i++;
    } else if (ch === '\n' || ch === '\r') {
      endRecord();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== '' || fields.length > 0 || recordStarted) endRecord();
  return records;
}
