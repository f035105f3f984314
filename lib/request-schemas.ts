// The request checks of the functions: the component schemas and the JSON request bodies
// of openapi.yaml, compiled by the build into plain JavaScript
// (dist/lib/openapi-validators.cjs, made by scripts/compile-validators.mjs), imported as a
// module so that a bundle carries them, and their failures in plain words. Neither Ajv's
// compiler nor the document is loaded. The validators are type guards for the types
// generated from the same document (lib/openapi-types.ts).
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { JsonOperation, RequestBody, SchemaName, Schemas } from './openapi-types.js';
import compiled from './openapi-validators.cjs';

type SchemaValidators = { [Name in SchemaName]: ValidateFunction<Schemas[Name]> };
type RequestBodyValidators = { [Op in JsonOperation]: ValidateFunction<RequestBody<Op>> };

/**
 * The one place where the two generated halves meet: both come from the document the
 * build just read, and test/openapi.test.ts checks that every schema and JSON operation
 * has its validator.
 */
const validators = compiled as unknown as SchemaValidators & RequestBodyValidators;

function missing(pointer: string): Error {
  return new Error(`openapi.yaml has no schema at ${pointer}`);
}

/** The build's validator for a schema of components/schemas: a type guard for that schema's type. */
export function componentSchema<Name extends SchemaName>(name: Name): ValidateFunction<Schemas[Name]> {
  const schemas: SchemaValidators = validators;
  if (!(name in schemas)) throw missing(`/components/schemas/${name}`);
  return schemas[name];
}

/** The build's validator for the JSON request body of an operation (by operationId): a type guard for that body's type. */
export function requestBodySchema<Op extends JsonOperation>(operationId: Op): ValidateFunction<RequestBody<Op>> {
  const bodies: RequestBodyValidators = validators;
  if (!(operationId in bodies)) throw missing(`the JSON request body of operation ${operationId}`);
  return bodies[operationId];
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
