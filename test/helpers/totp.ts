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
 * Waits, when needed, until the current 30-second step has at least `marginSeconds` left,
 * so that a test using steps now-1, now and now+1 does not straddle a boundary.
 */
export async function stepWithMargin(marginSeconds = 4): Promise<number> {
  const intoStep = (Date.now() / 1000) % 30;
  if (30 - intoStep < marginSeconds) await new Promise((resolve) => setTimeout(resolve, (30 - intoStep + 0.2) * 1000));
  return currentStep();
}
