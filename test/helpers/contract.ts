// Every answer the suites observe is checked against openapi.yaml: a path, method or
// status the document does not describe, a missing required header, or a body off its
// schema fails the test that made the request.
import { OPENAPI_DOCUMENT, schemaAt } from '../../lib/openapi.js';

interface ResponseSpec {
  $ref?: string;
  content?: Record<string, unknown>;
  headers?: Record<string, { $ref?: string; required?: boolean; schema?: unknown }>;
  'x-empty-body-allowed'?: boolean;
}

type Json = Record<string, unknown>;
const escape = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');

function at(pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], OPENAPI_DOCUMENT);
}

/** The documented path of a URL the dev server serves (/x/healthz is /healthz). */
export function documentedPath(url: string): string {
  const path = new URL(url).pathname;
  const probe = /\/(healthz|readyz)$/.exec(path);
  return probe ? `/${probe[1]}` : path.replace(/\/$/, '') || '/';
}

export interface ObservedAnswer {
  status: number;
  headers: Headers;
  text: string;
}

export function checkAgainstDocument(method: string, path: string, answer: ObservedAnswer): void {
  const where = `${method} ${path} → ${answer.status}`;
  const operationPointer = `/paths/${escape(path)}/${method.toLowerCase()}`;
  if (at(operationPointer) === undefined) throw new Error(`openapi.yaml does not describe ${method} ${path}`);
  let pointer = `${operationPointer}/responses/${answer.status}`;
  let response = at(pointer) as ResponseSpec | undefined;
  if (response === undefined)
    throw new Error(
      `openapi.yaml does not document status ${answer.status} for ${method} ${path}: ${answer.text.slice(0, 200)}`,
    );
  if (response.$ref !== undefined) {
    pointer = response.$ref.slice(1);
    response = at(pointer) as ResponseSpec;
  }

  for (const [name, spec] of Object.entries(response.headers ?? {})) {
    const headerPointer = spec.$ref !== undefined ? spec.$ref.slice(1) : `${pointer}/headers/${escape(name)}`;
    const header = at(headerPointer) as { required?: boolean; schema?: { type?: string } };
    const value = answer.headers.get(name);
    if (value === null) {
      if (header.required) throw new Error(`${where}: required header ${name} is missing`);
      continue;
    }
    const typed = header.schema?.type === 'integer' ? Number(value) : value;
    const validate = schemaAt(`${headerPointer}/schema`);
    if (!validate(typed))
      throw new Error(`${where}: header ${name}: ${value} is off its schema (${JSON.stringify(validate.errors)})`);
  }

  const content = response.content;
  if (content === undefined) {
    if (answer.text !== '')
      throw new Error(`${where}: the document describes no body, got ${answer.text.slice(0, 200)}`);
    return;
  }
  if (answer.text === '' && response['x-empty-body-allowed']) return;
  const type = answer.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
  if (!(type in content)) throw new Error(`${where}: content type "${type}" is not documented`);
  // Pages, scripts and style sheets (the portal) are checked as text against their schema.
  let body: unknown = answer.text;
  if (/[/+]json$/.test(type))
    try {
      body = JSON.parse(answer.text);
    } catch {
      throw new Error(`${where}: the body is not JSON: ${answer.text.slice(0, 200)}`);
    }
  const validate = schemaAt(`${pointer}/content/${escape(type)}/schema`);
  if (!validate(body))
    throw new Error(`${where}: body off its schema: ${JSON.stringify(validate.errors)}\n${answer.text.slice(0, 300)}`);
}
