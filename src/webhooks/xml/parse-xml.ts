import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type XmlErrorCode = 'TOO_LARGE' | 'MALFORMED' | 'DOCTYPE_FORBIDDEN';

export class XmlError extends Error {
  override readonly name = 'XmlError';
  constructor(
    readonly code: XmlErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** One element's content: its text, its child elements, or a list when a tag repeats. */
export type XmlValue = string | XmlElement | XmlValue[];
export interface XmlElement {
  readonly [name: string]: XmlValue;
}

export interface XmlLimits {
  /** UTF-8 bytes accepted before parsing starts; default 1 MiB. */
  maxBytes?: number;
}

export const DEFAULT_MAX_XML_BYTES = 1024 * 1024;

// Any DTD is refused before parsing, so no parser setting can ever expand an entity.
const DTD_MARKUP = /<!(?:DOCTYPE|ENTITY)/i;

const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  // WeChat ids such as MsgId 22449548215715819 exceed 2^53: every value stays a string.
  parseTagValue: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  cdataPropName: false,
  maxNestedTags: 32,
});

/**
 * Parses a WeChat XML document (root `<xml>`) into the root's children, all values strings.
 * Throws XmlError: TOO_LARGE, DOCTYPE_FORBIDDEN, or MALFORMED (not well-formed, or not one `<xml>` root).
 */
export function parseWechatXml(xml: string, limits: XmlLimits = {}): XmlElement {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  if (xml.length > maxBytes || Buffer.byteLength(xml, 'utf8') > maxBytes) {
    throw new XmlError('TOO_LARGE', `XML larger than ${maxBytes} bytes`);
  }
  if (DTD_MARKUP.test(xml)) throw new XmlError('DOCTYPE_FORBIDDEN', 'XML with a DOCTYPE or ENTITY declaration');
  // The parser alone accepts unclosed and mismatched tags; the validator is what rejects them.
  const validation = XMLValidator.validate(xml);
  if (validation !== true) {
    const { msg, line, col } = validation.err;
    throw new XmlError('MALFORMED', `${msg} (line ${line}, column ${col})`);
  }
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (cause) {
    throw new XmlError('MALFORMED', 'XML could not be parsed', { cause });
  }
  if (!isElement(doc) || Object.keys(doc).length !== 1 || !Object.hasOwn(doc, 'xml')) {
    throw new XmlError('MALFORMED', 'expected a single <xml> root element');
  }
  const root = doc.xml;
  // `<xml></xml>` parses as an empty string: an element without children.
  if (typeof root === 'string') return {};
  if (!isElement(root)) throw new XmlError('MALFORMED', 'expected a single <xml> root element');
  return root;
}

/** A child's text; undefined when absent or not plain text. A repeated tag is ambiguous, so MALFORMED. */
export function textOf(element: XmlElement, name: string): string | undefined {
  const value = own(element, name);
  return typeof value === 'string' ? value : undefined;
}

/** A child element; an empty tag counts as an element without children. */
export function childOf(element: XmlElement, name: string): XmlElement | undefined {
  const value = own(element, name);
  if (value === '') return {};
  return isElement(value) ? value : undefined;
}

function own(element: XmlElement, name: string): XmlValue | undefined {
  if (!Object.hasOwn(element, name)) return undefined;
  const value = element[name];
  if (Array.isArray(value)) throw new XmlError('MALFORMED', `<${name}> appears more than once`);
  return value;
}

function isElement(value: unknown): value is XmlElement {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
