// openapi.yaml is the one description of the request and response bodies. Its schemas are
// compiled with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) at build time into
// dist/lib/openapi-validators.cjs, and the request checks use them, so behaviour and
// documentation cannot drift apart. Other pointers (the tests' response checks) are
// compiled here on first use.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';

function readFirst(candidates: string[]): string | undefined {
  for (const candidate of candidates) {
    try {
      return readFileSync(new URL(candidate, import.meta.url), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return undefined;
}

// The build writes the document as JSON beside the compiled code (dist/openapi.json), which
// is what a starting function reads; the YAML (and the yaml package) only when it is absent.
function readDocument(): Record<string, unknown> {
  const json = readFirst(['../openapi.json']);
  if (json !== undefined) return JSON.parse(json) as Record<string, unknown>;
  const yaml = readFirst(['../openapi.yaml', '../../openapi.yaml']);
  if (yaml === undefined) throw new Error('openapi.yaml not found beside the compiled code');
  const { parse } = createRequire(import.meta.url)('yaml') as { parse(text: string): unknown };
  return parse(yaml) as Record<string, unknown>;
}

export const OPENAPI_DOCUMENT = readDocument();

const DOCUMENT_ID = 'openapi.json';
const require = createRequire(import.meta.url);

let ajv: Ajv2020 | undefined;

/** Ajv with the whole document, made on first use: the request checks do not need it. */
function compiler(): Ajv2020 {
  if (ajv !== undefined) return ajv;
  const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  // ajv-formats is CommonJS with a `default` property.
  const addFormats = (require('ajv-formats') as typeof import('ajv-formats')).default;
  // strict: false because the document holds OpenAPI keywords beside the schemas (paths,
  // responses, our x-error-message), which are not JSON Schema vocabulary. The same options
  // as scripts/compile-validators.mjs.
  const made = new Ajv({ strict: false, allErrors: false, verbose: true });
  addFormats(made);
  made.addSchema(OPENAPI_DOCUMENT, DOCUMENT_ID);
  ajv = made;
  return made;
}

/** A validator for the schema at a JSON pointer of the document ("/components/schemas/X"). */
export function schemaAt(pointer: string): ValidateFunction {
  const validate = compiler().getSchema(`${DOCUMENT_ID}#${pointer}`);
  if (validate === undefined) throw new Error(`openapi.yaml has no schema at ${pointer}`);
  return validate;
}

// The schemas of components/schemas compiled at build time (scripts/compile-validators.mjs):
// the same code Ajv would generate here, without loading Ajv at start.
function precompiled(): Record<string, ValidateFunction> | undefined {
  try {
    return require('./openapi-validators.cjs') as Record<string, ValidateFunction>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

const PRECOMPILED = precompiled();

export function componentSchema(name: string): ValidateFunction {
  return PRECOMPILED?.[name] ?? schemaAt(`/components/schemas/${name}`);
}

/** One validation failure in plain words, naming the field ("Field "totp" must be …"). */
export function describeFailure(error: ErrorObject, subject = 'Field'): string {
  if (error.keyword === 'required') {
    return `${subject} "${String(error.params.missingProperty)}" is required.`;
  }
  if (error.keyword === 'additionalProperties') {
    const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    return `Unknown field "${String(error.params.additionalProperty)}"; expected only ${allowed.join(', ')}.`;
  }
  const field = error.instancePath.split('/').filter(Boolean).join('.');
  if (field === '') return 'The request body must be a JSON object.';
  const custom = (error.parentSchema as { 'x-error-message'?: string } | undefined)?.['x-error-message'];
  return `${subject} "${field}" ${custom ?? error.message ?? 'is not valid'}.`;
}
