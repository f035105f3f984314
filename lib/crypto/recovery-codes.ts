// Recovery codes (contract §5, §6): ten one-time codes an employee keeps on paper for the
// day the phone is lost. Each is 80 random bits written in Crockford's base32 — no I, L,
// O or U, so nothing reads as another character — in groups of four (k7qm-3x9d-pw2h-t4nc).
// The database keeps only SHA-256 digests: like our tokens, a code is random, not chosen,
// so a fast hash suffices.
import { createHash, randomBytes } from 'node:crypto';
import base32Encode from 'base32-encode';

export const RECOVERY_CODE_COUNT = 10;
const CODE_BYTES = 10; // 80 bits: 16 Crockford characters
const GROUP = 4;

export interface RecoveryCodeSet {
  /** As shown to the employee, once. */
  codes: string[];
  /** As stored. */
  digests: string[];
}

function newCode(): string {
  const text = base32Encode(randomBytes(CODE_BYTES), 'Crockford').toLowerCase();
  return text.match(new RegExp(`.{${GROUP}}`, 'g'))?.join('-') ?? text;
}

/**
 * A code as typed back: case, spaces and hyphens do not matter, and the letters Crockford
 * reads as digits (i, l → 1; o → 0) are taken as those digits.
 */
export function canonicalRecoveryCode(typed: string): string {
  return typed.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
}

export function recoveryCodeDigest(typed: string): string {
  return createHash('sha256').update(canonicalRecoveryCode(typed), 'utf8').digest('hex');
}

export function newRecoveryCodes(): RecoveryCodeSet {
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(newCode());
  const list = [...codes];
  return { codes: list, digests: list.map(recoveryCodeDigest) };
}
