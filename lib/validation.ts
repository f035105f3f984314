// Request checks, driven by the schemas of openapi.yaml. Every refusal is a 400 whose
// message names the field; tokens are the exception the contract makes: a missing token
// is 401 invalid_token, decided by the handler. Usernames have their own module
// (lib/usernames.ts): their rules need more than a schema can say. The validators are
// type guards for the types generated from the same document (lib/openapi-types.ts): a
// body is typed only once its schema has admitted it.
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { invalidRequest } from './http/errors.js';
import { componentSchema, describeFailure, requestBodySchema } from './request-schemas.js';
import type { JsonOperation, RequestBody, SchemaName, Schemas } from './openapi-types.js';

export type JsonObject = Record<string, unknown>;

/** `body` as `validate` admits it, or a 400 naming the first field it refused. */
export function checked<T>(validate: ValidateFunction<T>, body: unknown, subject = 'Field'): T {
  if (validate(body)) return body;
  const [first] = validate.errors ?? [];
  throw invalidRequest(first === undefined ? 'The request body is not valid.' : describeFailure(first, subject));
}

/** Checks a value against a schema of components/schemas and returns it typed. */
export function validateBody<Name extends SchemaName>(
  schemaName: Name,
  body: unknown,
  subject = 'Field',
): Schemas[Name] {
  return checked(componentSchema(schemaName), body, subject);
}

/** Checks the JSON request body of an operation (by operationId) and returns it typed. */
export function validateRequestBody<Op extends JsonOperation>(operationId: Op, body: unknown): RequestBody<Op> {
  return checked(requestBodySchema(operationId), body);
}

/** A token field: absent, null and "" all mean "not given". */
export function tokenOf(value: string | null | undefined): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : value;
}
