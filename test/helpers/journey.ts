// The user's journey as steps the suites reuse: create (reading the password from its QR
// code), enroll (reading the otpauth URI from its QR code), sign in with a computed code.
import { expect } from 'chai';
import { decodeQrPng } from './qr.js';
import { postJson } from './http.js';
import type { Answer } from './http.js';
import { codeAt } from './totp.js';

export interface Enrolled {
  username: string;
  password: string;
  secret: string;
  recoveryCodes: string[];
  enrollmentToken: string;
}

export async function createAccount(
  base: string,
  username: string,
  tokens: Record<string, string> = {},
  expected = 201,
): Promise<{ password: string; enrollmentToken: string; answer: Answer }> {
  const answer = await postJson(`${base}/generate-password`, { username, ...tokens });
  expect(answer.status, answer.text).to.equal(expected);
  const password = decodeQrPng(answer.body.qr_code_base64 as string);
  return { password, enrollmentToken: answer.body.enrollment_token as string, answer };
}

export async function enroll(
  base: string,
  username: string,
  enrollmentToken: string,
): Promise<{ secret: string; recoveryCodes: string[]; answer: Answer }> {
  const answer = await postJson(`${base}/generate-2fa`, { username, enrollment_token: enrollmentToken });
  expect(answer.status, answer.text).to.equal(200);
  const uri = new URL(decodeQrPng(answer.body.qr_code_2fa_base64 as string));
  expect(uri.toString()).to.equal(answer.body.otpauth_uri);
  const secret = uri.searchParams.get('secret') as string;
  expect(secret).to.equal(answer.body.manual_entry_key);
  return { secret, recoveryCodes: answer.body.recovery_codes as string[], answer };
}

export function signIn(
  base: string,
  username: string,
  password: string,
  secret: string,
  step: number,
): Promise<Answer> {
  return postJson(`${base}/authenticate`, { username, password, totp: codeAt(secret, step) });
}

export async function createAndEnroll(base: string, username: string): Promise<Enrolled> {
  const { password, enrollmentToken } = await createAccount(base, username);
  const { secret, recoveryCodes } = await enroll(base, username, enrollmentToken);
  return { username, password, secret, recoveryCodes, enrollmentToken };
}
