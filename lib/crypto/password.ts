// Generated passwords: 24 characters drawn uniformly with the CSPRNG from letters, digits
// and the 32 ASCII punctuation characters. crypto.randomInt rejects biased draws itself,
// and redrawing a whole password that lacks a class keeps the result uniform over the
// passwords that have all four.
import { randomInt } from 'node:crypto';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
export const PASSWORD_ALPHABET = LOWER + UPPER + DIGITS + PUNCTUATION;
export const PASSWORD_LENGTH = 24;

const CLASSES = [LOWER, UPPER, DIGITS, PUNCTUATION];

export function hasEveryClass(password: string): boolean {
  return CLASSES.every((chars) => [...password].some((c) => chars.includes(c)));
}

export function generatePassword(length: number = PASSWORD_LENGTH): string {
  for (;;) {
    let password = '';
    for (let i = 0; i < length; i++) password += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
    if (hasEveryClass(password)) return password;
  }
}
