// The contract's error answers: one class carries status, machine code, human sentence
// and the headers some statuses need (Allow, Retry-After). The codes are openapi.yaml's
// ErrorCode (lib/openapi-types.ts).
import type { ErrorCode } from '../openapi-types.js';

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Extra fields of the body beside error and code (e.g. a renewal token). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return { error: this.message, code: this.code, ...this.extra };
  }
}

export const invalidRequest = (message: string): HttpError => new HttpError(400, 'invalid_request', message);

export const invalidCredentials = (): HttpError =>
  new HttpError(401, 'invalid_credentials', 'The username, password or code is not correct.');

export const invalidToken = (): HttpError =>
  new HttpError(401, 'invalid_token', 'The token is missing, wrong, already used or no longer valid.');

/**
 * employee-events: the request does not prove it comes from the broker. One body whatever
 * the reason (no token, bad signature, wrong audience…): the reason is for the log only,
 * so a forger learns nothing from the answer. The challenge header is RFC 6750's.
 */
export const unauthenticated = (): HttpError =>
  new HttpError(401, 'unauthenticated', 'The request does not prove that it comes from the event broker.', {
    'WWW-Authenticate': 'Bearer',
  });

/** employee-events: an authenticated delivery of an event from a source that may not change accounts. */
export const forbidden = (): HttpError => new HttpError(403, 'forbidden', 'Events from this source are not accepted.');

export const accountExists = (): HttpError =>
  new HttpError(
    409,
    'account_exists',
    'This account already exists; it cannot be created again without a valid token.',
  );

export const tooManyRequests = (retryAfterSeconds: number): HttpError =>
  new HttpError(429, 'too_many_requests', `Too many failed attempts; try again in ${retryAfterSeconds} seconds.`, {
    'Retry-After': String(retryAfterSeconds),
  });

export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

export const unavailable = (retryAfterSeconds: number = UNAVAILABLE_RETRY_AFTER_SECONDS): HttpError =>
  new HttpError(503, 'unavailable', 'The service is temporarily unavailable; try again shortly.', {
    'Retry-After': String(retryAfterSeconds),
  });

/**
 * The body did not arrive in time after the headers (contract §2). The connection is
 * closed after the answer: the rest of the body may still come, and would be read as
 * the next request.
 */
export const requestTimeout = (seconds: number): HttpError =>
  new HttpError(408, 'request_timeout', `The request body did not arrive within ${seconds} seconds.`, {
    Connection: 'close',
  });

export const internal = (): HttpError =>
  new HttpError(500, 'internal', 'An unexpected error occurred; it has been logged.');
