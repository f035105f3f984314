// openapi.yaml is the one description of the request and response bodies. The build writes
// it beside the compiled code as dist/openapi.json, and compiles its component schemas with
// Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) into dist/lib/openapi-validators.cjs
// (scripts/compile-validators.mjs), one per component schema and one per JSON request body.
// The request checks use those, so behaviour and documentation cannot drift apart, and a
// starting function neither parses YAML nor loads Ajv; they are type guards for the types
// generated from the same document (lib/openapi-types.ts). Other pointers (the tests'
// response checks) are compiled here on first use.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, Options, ValidateFunction } from 'ajv/dist/2020.js';
import type { JsonOperation, RequestBody, SchemaName, Schemas } from './openapi-types.js';

export const OPENAPI_DOCUMENT = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8')) as Record<string, unknown>;

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

/**
 * The build's validators, typed with the types generated from the same openapi.yaml
 * (lib/openapi-types.ts). The assertion is the one place where the two generated halves
 * meet: both come from the document the build just read, and test/openapi.test.ts checks
 * that every schema and JSON operation has its validator.
 */
type SchemaValidators = { [Name in SchemaName]: ValidateFunction<Schemas[Name]> };
type RequestBodyValidators = { [Op in JsonOperation]: ValidateFunction<RequestBody<Op>> };

let precompiled: (SchemaValidators & RequestBodyValidators) | undefined;

function loadPrecompiled(): SchemaValidators & RequestBodyValidators {
  precompiled ??= require('./openapi-validators.cjs') as SchemaValidators & RequestBodyValidators;
  return precompiled;
}

function missing(pointer: string): Error {
  return new Error(`openapi.yaml has no schema at ${pointer}`);
}

/** The build's validator for a schema of components/schemas: a type guard for that schema's type. */
export function componentSchema<Name extends SchemaName>(name: Name): ValidateFunction<Schemas[Name]> {
  const validators: SchemaValidators = loadPrecompiled();
  if (!(name in validators)) throw missing(`/components/schemas/${name}`);
  return validators[name];
}

/** The build's validator for the JSON request body of an operation (by operationId): a type guard for that body's type. */
export function requestBodySchema<Op extends JsonOperation>(operationId: Op): ValidateFunction<RequestBody<Op>> {
  const validators: RequestBodyValidators = loadPrecompiled();
  if (!(operationId in validators)) throw missing(`the JSON request body of operation ${operationId}`);
  return validators[operationId];
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
