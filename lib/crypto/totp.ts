// TOTP as authenticator apps expect it: SHA-1, 6 digits, 30-second steps, 20-byte secrets.
import { generateSecret, generateURI, verify } from 'otplib';

export const TOTP_PERIOD_SECONDS = 30;

export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

export function otpauthUri(secret: string, username: string, issuer: string): string {
  return generateURI({ issuer, label: username, secret, algorithm: 'sha1', digits: 6, period: TOTP_PERIOD_SECONDS });
}

/**
 * Accepts a code at the current step ±1, and only at a step later than `afterStep` (the last
 * one accepted for this account), so a code cannot be replayed. Returns the matched step.
 */
export async function verifyTotp(
  secret: string,
  code: string,
  afterStep: number | null,
  epochSeconds?: number,
): Promise<number | undefined> {
  try {
    const result = await verify({
      secret,
      token: code,
      epochTolerance: TOTP_PERIOD_SECONDS,
      ...(afterStep === null ? {} : { afterTimeStep: afterStep }),
      ...(epochSeconds === undefined ? {} : { epoch: epochSeconds }),
    });
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  } catch {
    // otplib throws on a malformed code or secret; for the caller that is simply "not valid".
    return undefined;
  }
}
