// A plain HTTP client for the tests: real requests, raw control over method, headers and body,
// and every answer checked against openapi.yaml and for leaked internals, and its secrets
// remembered for the run-wide log check.
import http from 'node:http';
import { checkAgainstDocument, documentedPath } from './contract.js';
import { internalsIn } from './internals.js';
import { decodeQrPng } from './qr.js';
import { rememberSecret } from './secrets.js';

export interface Answer {
  status: number;
  headers: Headers;
  // The JSON body, or the text when it is not JSON.
  body: Record<string, unknown> & { code?: string; error?: string };
  text: string;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** The path of openapi.yaml that describes this URL, when it is not the URL's own (a function served at "/"). */
  documentedAs?: string;
}

/** Every secret an answer hands out: the log check of the whole run looks for each one. */
export function rememberSecretsOf(body: Answer['body']): void {
  for (const field of ['enrollment_token', 'renewal_token', 'invitation_token'] as const)
    rememberSecret(body[field], 'token');
  rememberSecret(body.manual_entry_key, 'totp secret');
  for (const field of ['reset_token'] as const) rememberSecret(body[field], 'token');
  if (Array.isArray(body.recovery_codes)) for (const code of body.recovery_codes) rememberSecret(code, 'recovery code');
  // The password exists only inside its QR code: read it as the employee's phone would.
  if (typeof body.qr_code_base64 === 'string') rememberSecret(decodeQrPng(body.qr_code_base64), 'password');
}

/**
 * One exchange over node:http, the whole body in one write (so with its Content-Length),
 * the answer read whole as UTF-8. Not fetch: Node 20's fetch (undici and web streams) cost
 * the test process more CPU than the servers it tested (the fuzz suite: 15 s against 9).
 */
function exchange(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: string | Uint8Array,
): Promise<{ status: number; headers: Headers; text: string }> {
  return new Promise((resolve, reject) => {
    // Node frames a body by itself only for the methods that usually carry one (POST,
    // PUT): a DELETE with a body would go out unframed. fetch states the length always.
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const sent = http.request(url, { method, headers: { ...length, ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const answered = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          if (value === undefined) continue;
          for (const one of Array.isArray(value) ? value : [value]) answered.append(name, one);
        }
        resolve({ status: response.statusCode ?? 0, headers: answered, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    sent.on('error', reject);
    // A body as bytes: a string first chunk would be written in one piece with the head, in
    // the string's encoding (UTF-8), and a header holding raw bytes (a latin1 string, as
    // fetch sends a ByteString) would reach the server re-encoded.
    sent.end(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  });
}

/** Sends a request and checks the answer against openapi.yaml before returning it. */
export async function request(url: string, init: RequestInit = {}): Promise<Answer> {
  const method = init.method ?? 'GET';
  const response = await exchange(url, method, init.headers, init.body);
  const text = response.text;
  checkAgainstDocument(method, init.documentedAs ?? documentedPath(url), {
    status: response.status,
    headers: response.headers,
    text,
  });
  let body: Answer['body'] = {};
  try {
    body = JSON.parse(text) as Answer['body'];
  } catch {
    // not JSON: the text is still there
  }
  if (response.status >= 400) {
    const sent = [
      url,
      JSON.stringify(init.headers ?? {}),
      typeof init.body === 'string' ? init.body : Buffer.from(init.body ?? []).toString('latin1'),
    ].join('\n');
    const found = internalsIn(text, sent);
    if (found.length > 0)
      throw new Error(
        `${method} ${url} → ${response.status} carries internals (${found.join(', ')}): ${text.slice(0, 500)}`,
      );
  } else if (body !== null && typeof body === 'object') {
    rememberSecretsOf(body);
  }
  return { status: response.status, headers: response.headers, body, text };
}

export function postJson(
  url: string,
  value: unknown,
  headers: Record<string, string> = {},
  documentedAs?: string,
): Promise<Answer> {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value),
    ...(documentedAs === undefined ? {} : { documentedAs }),
  });
}
