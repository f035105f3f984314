// openapi.yaml is the one description of the request and response bodies. Its schemas are
// compiled once, at start, with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1), and
// the request checks use them, so behaviour and documentation cannot drift apart.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

// The document sits beside the compiled code (dist/openapi.yaml) or at the project root.
function readDocument(): Record<string, unknown> {
  for (const candidate of ['../openapi.yaml', '../../openapi.yaml']) {
    try {
      return parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error('openapi.yaml not found beside the compiled code');
}

export const OPENAPI_DOCUMENT = readDocument();

const DOCUMENT_ID = 'openapi.json';
// ajv-formats is CommonJS with a `default` property; under NodeNext its typings describe that property.
const addFormats = addFormatsModule.default;

// strict: false because the document holds OpenAPI keywords beside the schemas (paths,
// responses, our x-error-message), which are not JSON Schema vocabulary.
const ajv = new Ajv2020({ strict: false, allErrors: false, verbose: true });
addFormats(ajv);
ajv.addSchema(OPENAPI_DOCUMENT, DOCUMENT_ID);

/** A validator for the schema at a JSON pointer of the document ("/components/schemas/X"). */
export function schemaAt(pointer: string): ValidateFunction {
  const validate = ajv.getSchema(`${DOCUMENT_ID}#${pointer}`);
  if (validate === undefined) throw new Error(`openapi.yaml has no schema at ${pointer}`);
  return validate;
}

export function componentSchema(name: string): ValidateFunction {
  return schemaAt(`/components/schemas/${name}`);
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
