// Field checks of the JSON bodies. Every refusal is a 400 whose message names the field;
// tokens are the exception the contract makes: a missing token is 401 invalid_token.
import { invalidRequest } from './http/errors.js';

export type JsonObject = Record<string, unknown>;

export const USERNAME_MAX_LENGTH = 64;
const USERNAME_CHARACTERS = /^[\p{L}\p{Nd}._@-]+$/u;
const TOTP_CODE = /^\d{6}$/;
const PASSWORD_MAX_LENGTH = 256;
const TOKEN_MAX_LENGTH = 512;

export function rejectUnknownFields(body: JsonObject, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw invalidRequest(`Unknown field ${JSON.stringify(unknown[0])}; expected only ${allowed.join(', ')}.`);
  }
}

/** Trimmed, NFC, lower case: "Alice " and "alice" are one account. */
export function normaliseUsername(raw: string): string {
  return raw.trim().normalize('NFC').toLowerCase();
}

export function requireUsername(body: JsonObject): string {
  const raw = body.username;
  if (raw === undefined || raw === null) throw invalidRequest('Field "username" is required.');
  if (typeof raw !== 'string') throw invalidRequest('Field "username" must be a string.');
  const username = normaliseUsername(raw);
  const length = [...username].length;
  if (length === 0) throw invalidRequest('Field "username" must not be empty.');
  if (length > USERNAME_MAX_LENGTH) throw invalidRequest(`Field "username" must be at most ${USERNAME_MAX_LENGTH} characters.`);
  if (!USERNAME_CHARACTERS.test(username)) {
    throw invalidRequest('Field "username" may contain only letters, digits and the characters . _ - @');
  }
  return username;
}

/** A token field: absent, null or "" mean "not given"; anything but a string is a 400. */
export function optionalToken(body: JsonObject, field: string): string | undefined {
  const raw = body[field];
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') throw invalidRequest(`Field "${field}" must be a string.`);
  if (raw.length > TOKEN_MAX_LENGTH) throw invalidRequest(`Field "${field}" is too long.`);
  return raw;
}

export function requirePassword(body: JsonObject): string {
  const raw = body.password;
  if (raw === undefined || raw === null) throw invalidRequest('Field "password" is required.');
  if (typeof raw !== 'string') throw invalidRequest('Field "password" must be a string.');
  if (raw.length === 0) throw invalidRequest('Field "password" must not be empty.');
  if (raw.length > PASSWORD_MAX_LENGTH) throw invalidRequest(`Field "password" must be at most ${PASSWORD_MAX_LENGTH} characters.`);
  return raw;
}

export function requireTotpCode(body: JsonObject): string {
  const raw = body.totp;
  if (raw === undefined || raw === null) throw invalidRequest('Field "totp" is required.');
  if (typeof raw !== 'string') throw invalidRequest('Field "totp" must be a string of 6 digits.');
  if (!TOTP_CODE.test(raw)) throw invalidRequest('Field "totp" must be exactly 6 digits.');
  return raw;
}
