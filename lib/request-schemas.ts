// The request checks of the functions: the component schemas of openapi.yaml, compiled
// by the build into plain JavaScript (dist/lib/openapi-validators.cjs, made by
// scripts/compile-validators.mjs), imported as a module so that a bundle carries them, and
// their failures in plain words. Neither Ajv's compiler nor the document is loaded.
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import validators from './openapi-validators.cjs';

/** The build's validator for a schema of components/schemas. */
export function componentSchema(name: string): ValidateFunction {
  const validate = (validators as Record<string, ValidateFunction | undefined>)[name];
  if (validate === undefined) throw new Error(`openapi.yaml has no schema at /components/schemas/${name}`);
  return validate;
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
