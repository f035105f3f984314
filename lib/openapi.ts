// openapi.yaml is the one description of the request and response bodies. The build writes
// it beside the compiled code as dist/openapi.json, and compiles its component schemas with
// Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) into dist/lib/openapi-validators.cjs
// (scripts/compile-validators.mjs). The request checks use those (lib/request-schemas.ts),
// so behaviour and documentation cannot drift apart, and a function neither parses YAML,
// nor reads this document, nor loads Ajv. Other pointers (the tests' response checks, the
// development server's /openapi.json) come from here.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, Options, ValidateFunction } from 'ajv/dist/2020.js';

export const OPENAPI_DOCUMENT = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

/** The id under which the document is registered with Ajv: pointers are `openapi.json#/…`. */
export const DOCUMENT_ID = 'openapi.json';
const require = createRequire(import.meta.url);

/**
 * An Ajv holding the whole document: the one configuration of every validator, here and in
 * the build's precompiled ones. strict: false because the document holds OpenAPI keywords
 * beside the schemas (paths, responses, our x-error-message), which are not JSON Schema
 * vocabulary.
 */
export function newAjv(options: Options = {}): Ajv2020 {
  const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  // ajv-formats is CommonJS with a `default` property.
  const addFormats = (require('ajv-formats') as typeof import('ajv-formats')).default;
  const ajv = new Ajv({ strict: false, allErrors: false, verbose: true, ...options });
  addFormats(ajv);
  ajv.addSchema(OPENAPI_DOCUMENT, DOCUMENT_ID);
  return ajv;
}

let compiler: Ajv2020 | undefined;

/** A validator for the schema at a JSON pointer of the document ("/components/schemas/X"). */
export function schemaAt(pointer: string): ValidateFunction {
  compiler ??= newAjv();
  const validate = compiler.getSchema(`${DOCUMENT_ID}#${pointer}`);
  if (validate === undefined) throw new Error(`openapi.yaml has no schema at ${pointer}`);
  return validate;
}
