// Request checks, driven by the schemas of openapi.yaml. Every refusal is a 400 whose
// message names the field; tokens are the exception the contract makes: a missing token
// is 401 invalid_token, decided by the handler. Usernames have their own module
// (lib/usernames.ts): their rules need more than a schema can say.
import { invalidRequest } from './http/errors.js';
import { componentSchema, describeFailure } from './request-schemas.js';

export type JsonObject = Record<string, unknown>;

export interface GeneratePasswordRequest {
  username: string;
  renewal_token?: string | null;
  invitation_token?: string | null;
  reset_token?: string | null;
}

export interface Generate2faRequest {
  username: string;
  enrollment_token?: string | null;
}

export interface AuthenticateRequest {
  username: string;
  password: string;
  /** Exactly one of totp and recovery_code (checked by the handler). */
  totp?: string;
  recovery_code?: string;
}

export interface EmployeeEventData {
  username: string;
  email?: string | null;
  display_name?: string | null;
}

export interface ResetRequestedData {
  username: string;
  requested_by: string;
  reason?: string | null;
}

/** Checks a body against a schema of components/schemas and returns it typed. */
export function validateBody<T>(schemaName: string, body: unknown, subject = 'Field'): T {
  const validate = componentSchema(schemaName);
  if (!validate(body)) {
    const [first] = validate.errors ?? [];
    throw invalidRequest(first === undefined ? 'The request body is not valid.' : describeFailure(first, subject));
  }
  return body as T;
}

/** A token field: absent, null and "" all mean "not given". */
export function tokenOf(value: string | null | undefined): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : value;
}
