// A plain HTTP client for the tests: real requests, raw control over method, headers and body,
// and every answer checked against openapi.yaml.
import { checkAgainstDocument, documentedPath } from './contract.js';
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

/** Sends a request and checks the answer against openapi.yaml before returning it. */
export async function request(url: string, init: RequestInit = {}): Promise<Answer> {
  const method = init.method ?? 'GET';
  const response = await fetch(url, { method, headers: init.headers, body: init.body });
  const text = await response.text();
  checkAgainstDocument(method, init.documentedAs ?? documentedPath(url), { status: response.status, headers: response.headers, text });
  let body: Answer['body'] = {};
  try {
    body = JSON.parse(text) as Answer['body'];
  } catch {
    // not JSON: the text is still there
  }
  return { status: response.status, headers: response.headers, body, text };
}

export function postJson(url: string, value: unknown, headers: Record<string, string> = {}, documentedAs?: string): Promise<Answer> {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value),
    ...(documentedAs === undefined ? {} : { documentedAs }),
  });
}
