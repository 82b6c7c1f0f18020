/**
 * A deliberately tiny protobuf walker for tests, written independently of src/wire.ts: it lists
 * the fields of one message level (number, wire type, where the tag, length and payload are), so
 * tests can check the library against the raw bytes and aim corruptions at real length fields.
 */
export interface RawField {
  id: number;
  wire: number;
  tagAt: number;
  /** Offset of the length varint (length-delimited fields only). */
  lengthAt: number;
  /** Payload start and end. */
  start: number;
  end: number;
  /** The varint value for wire type 0. */
  value?: number;
}

function varint(bytes: Uint8Array, at: number): [number, number] {
  let v = 0;
  let scale = 1;
  let i = at;
  for (;;) {
    const b = bytes[i++];
    if (b === undefined) throw new Error('varint past end');
    v += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [v, i];
  }
}

/** The fields of the message occupying bytes [from, to). */
export function rawFields(bytes: Uint8Array, from = 0, to = bytes.length): RawField[] {
  const out: RawField[] = [];
  let at = from;
  while (at < to) {
    const tagAt = at;
    const [tag, p] = varint(bytes, at);
    const id = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      const [value, q] = varint(bytes, p);
      out.push({ id, wire, tagAt, lengthAt: -1, start: p, end: q, value });
      at = q;
    } else if (wire === 2) {
      const [len, q] = varint(bytes, p);
      out.push({ id, wire, tagAt, lengthAt: p, start: q, end: q + len });
      at = q + len;
    } else if (wire === 5) {
      out.push({ id, wire, tagAt, lengthAt: -1, start: p, end: p + 4 });
      at = p + 4;
    } else if (wire === 1) {
      out.push({ id, wire, tagAt, lengthAt: -1, start: p, end: p + 8 });
      at = p + 8;
    } else {
      throw new Error(`wire type ${wire} in test walker`);
    }
  }
  return out;
}
