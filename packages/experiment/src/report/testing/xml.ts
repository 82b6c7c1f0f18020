/**
 * A minimal XML well-formedness checker for tests: one root element, properly
 * nested and closed tags, quoted and unique attributes, only the five predefined
 * or numeric entity references, no bare '<' or '&' in text. Returns a small tree
 * so tests can look for elements and text. Not a validating parser: no DTDs.
 */

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: (XmlElement | string)[];
}

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_.:-]*$/;
const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/;

export function parseXml(source: string): XmlElement {
  let pos = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (message: string): never => {
    throw new XmlError(`${message} at offset ${pos}: ${JSON.stringify(source.slice(pos, pos + 40))}`);
  };
  const decode = (raw: string): string => {
    if (ENTITY.test(raw)) fail('bad entity reference');
    return raw
      .replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
      .replace(/&#([0-9]+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
  };

  while (pos < source.length) {
    const lt = source.indexOf('<', pos);
    const textEnd = lt === -1 ? source.length : lt;
    if (textEnd > pos) {
      const raw = source.slice(pos, textEnd);
      if (stack.length === 0) {
        if (raw.trim() !== '') fail('text outside the root element');
      } else {
        stack[stack.length - 1]!.children.push(decode(raw));
      }
      pos = textEnd;
      continue;
    }
    if (source.startsWith('<!--', pos)) {
      const end = source.indexOf('-->', pos + 4);
      if (end === -1) fail('unclosed comment');
      pos = end + 3;
    } else if (source.startsWith('<![CDATA[', pos)) {
      const end = source.indexOf(']]>', pos);
      if (end === -1 || stack.length === 0) fail('bad CDATA section');
      stack[stack.length - 1]!.children.push(source.slice(pos + 9, end));
      pos = end + 3;
    } else if (source.startsWith('<?', pos)) {
      const end = source.indexOf('?>', pos);
      if (end === -1) fail('unclosed processing instruction');
      pos = end + 2;
    } else if (source.startsWith('</', pos)) {
      const end = source.indexOf('>', pos);
      if (end === -1) fail('unclosed end tag');
      const name = source.slice(pos + 2, end).trim();
      const open = stack.pop();
      if (!open || open.name !== name) fail(`end tag </${name}> does not close <${open?.name ?? 'nothing'}>`);
      pos = end + 1;
    } else {
      const element = readStartTag();
      if (stack.length === 0) {
        if (root) fail('a second root element');
        root = element.element;
      } else {
        stack[stack.length - 1]!.children.push(element.element);
      }
      if (!element.selfClosing) stack.push(element.element);
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) fail('no root element');
  return root!;

  function readStartTag(): { element: XmlElement; selfClosing: boolean } {
    pos++;
    const nameMatch = /^[^\s/>]+/.exec(source.slice(pos));
    if (!nameMatch || !NAME.test(nameMatch[0])) fail('bad element name');
    const element: XmlElement = { name: nameMatch![0], attributes: {}, children: [] };
    pos += nameMatch![0].length;
    for (;;) {
      const ws = /^\s*/.exec(source.slice(pos))![0].length;
      pos += ws;
      if (source.startsWith('/>', pos)) {
        pos += 2;
        return { element, selfClosing: true };
      }
      if (source[pos] === '>') {
        pos++;
        return { element, selfClosing: false };
      }
      if (ws === 0) fail('attributes must be separated by white space');
      const attr = /^([^\s=/>]+)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(source.slice(pos));
      if (!attr || !NAME.test(attr[1]!)) fail('bad attribute');
      if (attr![1]! in element.attributes) fail(`duplicate attribute ${attr![1]}`);
      element.attributes[attr![1]!] = decode(attr![3] ?? attr![4] ?? '');
      pos += attr![0].length;
    }
  }
}

/** All elements named `name` in the tree, depth first. */
export function findAll(root: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const visit = (e: XmlElement): void => {
    if (e.name === name) out.push(e);
    for (const c of e.children) if (typeof c !== 'string') visit(c);
  };
  visit(root);
  return out;
}

/** The concatenated text of an element and its descendants. */
export function textContent(e: XmlElement): string {
  return e.children.map((c) => (typeof c === 'string' ? c : textContent(c))).join('');
}
