import { describe, expect, it } from 'vitest';
import { escapeControl } from './terminal.js';

// Issue 12, defect 16: control characters from input files reached the terminal raw (the
// command-level checks are test/reliability/escapes.test.ts).
const CLEAR_SCREEN = '\u001b[2J';

describe('escapeControl', () => {
  it('writes C0, DEL, C1 and bidi overrides as \\xNN / \\uNNNN, keeping line feeds only where asked', () => {
    expect(escapeControl(`a${CLEAR_SCREEN}b\rc\u009bd\u202ee\tf`)).toBe('a\\x1b[2Jb\\x0dc\\x9bd\\u202ee\tf');
    expect(escapeControl('one\ntwo')).toBe('one\\x0atwo');
    expect(escapeControl('one\ntwo', true)).toBe('one\ntwo');
  });
});
