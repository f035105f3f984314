// The CloudEvents HTTP binding's header-value encoding (v1.0.2 §3.1.3.2), which the
// cloudevents SDK (v10) does not apply in either direction: HTTP.binary writes attribute
// values into `ce-` headers as they are, and HTTP.toEvent reads them back as they are.
// Node refuses to send a header character above U+00FF (a 500 after the change had been
// committed) and sends U+0080–U+00FF as single Latin-1 bytes (`zoë` read back as `zoÃ«`).
// Every event we send and read over HTTP goes through binaryMessage / eventFromMessage.
import { HTTP } from 'cloudevents';
import type { CloudEvent, CloudEventV1 } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';

const CE_PREFIX = 'ce-';
/** Printable ASCII (U+0021–U+007E) except `"` and `%`: the only characters sent as they are. */
const PLAIN = /^[\x21\x23\x24\x26-\x7E]$/;
const ALL_PLAIN = /^[\x21\x23\x24\x26-\x7E]*$/;
const LONE_SURROGATE = /\p{Cs}/u;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/** A `ce-` header value that is not a valid encoding: the message is not a valid CloudEvent. */
export class HeaderEncodingError extends Error {
  override name = 'HeaderEncodingError';
  constructor(
    readonly header: string,
    problem: string,
  ) {
    super(`Header ${header} ${problem} (CloudEvents HTTP binding 1.0.2, section 3.1.3.2).`);
  }
}

/** Percent-encodes one attribute value: the UTF-8 bytes of space, `"`, `%` and everything outside U+0021–U+007E, upper-case hex. */
export function encodeHeaderValue(value: string, header = 'value'): string {
  // A lone surrogate has no UTF-8 form; Buffer would silently turn it into U+FFFD.
  if (LONE_SURROGATE.test(value)) throw new HeaderEncodingError(header, 'holds a lone UTF-16 surrogate');
  if (ALL_PLAIN.test(value)) return value;
  let encoded = '';
  // for…of walks code points, so a surrogate pair is one character, as the binding requires.
  for (const char of value) {
    if (PLAIN.test(char)) {
      encoded += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return encoded;
}

/**
 * Decodes one received header value: RFC 7230 quoted strings unescaped first (older
 * senders quoted instead of encoding), then one round of percent-decoding into UTF-8.
 * Lower-case hex and needless escapes are accepted; invalid UTF-8 (overlong forms
 * included) and a `%` without two hex digits are refused. Bytes above 0x7F, which Node
 * hands over as Latin-1 characters, are taken as the raw UTF-8 that senders built on
 * SDKs that do not encode (sdk-go, sdk-java, this one) put on the wire.
 */
export function decodeHeaderValue(value: string, header = 'value'): string {
  const unquoted = unquote(value, header);
  const bytes: number[] = [];
  for (let i = 0; i < unquoted.length; i++) {
    const code = unquoted.charCodeAt(i);
    if (code === 0x25) {
      const hex = unquoted.slice(i + 1, i + 3);
      if (!HEX_PAIR.test(hex))
        throw new HeaderEncodingError(header, 'has a "%" that is not followed by two hexadecimal digits');
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if ((code >= 0x20 && code <= 0x7e) || (code >= 0x80 && code <= 0xff)) {
      bytes.push(code);
    } else {
      throw new HeaderEncodingError(header, 'holds a control character or a character that cannot come from HTTP');
    }
  }
  try {
    // fatal: invalid sequences throw instead of becoming U+FFFD; ignoreBOM: a leading
    // U+FEFF is part of the value, not a marker to strip.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw new HeaderEncodingError(header, 'does not percent-decode to valid UTF-8');
  }
}

/** Removes the quotes and backslash escapes of RFC 7230 quoted strings; other text is kept. */
function unquote(value: string, header: string): string {
  if (!value.includes('"')) return value;
  let out = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value.charAt(i);
    if (char === '"') {
      quoted = !quoted;
    } else if (quoted && char === '\\') {
      i++;
      if (i === value.length) break; // caught below as unterminated
      out += value.charAt(i);
    } else {
      out += char;
    }
  }
  if (quoted) throw new HeaderEncodingError(header, 'has an unterminated quoted string');
  return out;
}

export interface BinaryMessage {
  headers: Record<string, string>;
  body: string;
}

/** HTTP.binary with every `ce-` header value percent-encoded; JSON or text data only. */
export function binaryMessage(event: CloudEvent<unknown>): BinaryMessage {
  const message = HTTP.binary(event);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    // The SDK passes extension values through untyped: integers and booleans take their
    // canonical string form here rather than being dropped.
    const text = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
    if (typeof text !== 'string') continue;
    headers[name] = name.toLowerCase().startsWith(CE_PREFIX) ? encodeHeaderValue(text, name) : text;
  }
  // The SDK has already serialised object data to JSON; a number or boolean stays as it is.
  const body: unknown = message.body;
  if (body === undefined || body === null) return { headers, body: '' };
  if (typeof body === 'string') return { headers, body };
  if (typeof body === 'number' || typeof body === 'boolean') return { headers, body: String(body) };
  throw new TypeError('binaryMessage takes JSON or text data only');
}

/** Percent-decodes the `ce-` headers of a received message; other headers are left as they are. */
export function decodeCeHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const decoded: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    decoded[name] =
      typeof value === 'string' && name.toLowerCase().startsWith(CE_PREFIX)
        ? decodeHeaderValue(value, name.toLowerCase())
        : value;
  }
  return decoded;
}

/** HTTP.toEvent on the decoded headers: binary, structured or batched mode, as the SDK reads them. */
export function eventFromMessage(
  headers: IncomingHttpHeaders,
  body: string,
): CloudEventV1<unknown> | CloudEventV1<unknown>[] {
  return HTTP.toEvent<unknown>({ headers: decodeCeHeaders(headers), body });
}
