// Enrollment, renewal and invitation tokens: 256 random bits for the caller, a SHA-256
// digest for the database. A fast hash suffices because the token is random, not chosen.
import { createHash, randomBytes } from 'node:crypto';

export interface IssuedToken {
  token: string;
  hash: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function issueToken(): IssuedToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}
