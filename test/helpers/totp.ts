// An independent TOTP (RFC 6238 over RFC 4226 HOTP, SHA-1) written from the RFCs with
// node:crypto, so the tests do not check otplib against itself.
import { createHmac } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

export function hotp(key: Buffer, counter: number, digits = 6): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', key).update(message).digest();
  const offset = (digest[digest.length - 1] as number) & 0x0f;
  const binary = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export function currentStep(nowMs = Date.now()): number {
  return Math.floor(nowMs / 1000 / 30);
}

export function codeAt(base32Secret: string, step: number): string {
  return hotp(base32Decode(base32Secret), step);
}

/**
 * The step after the current one, read just before a test's first sign-in. Codes at
 * `nextStep() - 1` (the current step) and `nextStep()` stay inside the service's window
 * (the server's step ±1) for as long as the server's step is one of those two: at least 30 s
 * from the read, far longer than a test's requests take, wherever in its 30 seconds the
 * step is when the test reads it. So a test that needs two steps never waits for a margin.
 */
export function nextStep(): number {
  return currentStep() + 1;
}

/**
 * Writes the step the account last signed in with, so that its next sign-in may use any
 * later step again (the service accepts only a step later than this one): a test that
 * needs a third fresh step moves the account's state, as the expiry tests write
 * `created_at`, instead of waiting up to 30 s for the clock's next step. PostgreSQL only.
 */
export async function setLastTotpStep(
  backend: { sql(text: string, params: unknown[]): Promise<unknown[]> },
  username: string,
  step: number,
): Promise<void> {
  const rows = await backend.sql('UPDATE users SET last_totp_step = $2 WHERE username = $1 RETURNING username', [
    username,
    step,
  ]);
  if (rows.length !== 1) throw new Error(`no account ${username} to set last_totp_step for`);
}

/**
 * For a test on PGlite that needs three fresh steps of one secret: there the server alone
 * holds the rows, so `last_totp_step` cannot be written back, and the three steps are the
 * previous, current and next one, the previous first. Returns the current step, after
 * waiting for the next one (at most `roomMs` + 20 ms: 1 s) when less than `roomMs` of it is left, so
 * that a code of `step - 1` sent at once reaches the server while it is still in the window.
 * On PostgreSQL use nextStep() and setLastTotpStep() instead: no wait at all.
 */
export async function currentStepWithRoom(roomMs = 980): Promise<number> {
  const leftMs = 30_000 - (Date.now() % 30_000);
  if (leftMs < roomMs) await new Promise((resolve) => setTimeout(resolve, leftMs + 20));
  return currentStep();
}
