// generate-2fa: enrolls (or, inside the same enrollment window, re-enrolls) the TOTP
// second factor of a pending account. The secret is stored Fernet-encrypted.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { HttpError, invalidToken } from '../../lib/http/errors.js';
import { enrollSecondFactor, findEnrollment, findStatus } from '../../lib/db/accounts.js';
import { hashToken } from '../../lib/crypto/tokens.js';
import { newTotpSecret, otpauthUri } from '../../lib/crypto/totp.js';
import { qrPngBase64 } from '../../lib/qr.js';
import { SecretBox } from '../../lib/crypto/fernet.js';
import type { Logger } from '../../lib/log.js';
import { tokenOf, usernameOf } from '../../lib/validation.js';
import type { Generate2faRequest } from '../../lib/validation.js';

/**
 * A redo of a lost scan is a person asking again, seconds or minutes later. Requests for
 * one account closer together than this are one enrollment sent several times (a double
 * submit, two tabs, a retrying client): the first stored wins, the others are refused,
 * so that exactly one caller holds a QR code that works. The time is the stored token's
 * own Fernet timestamp, in whole seconds (rounded by the package we use, truncated by
 * Python's): a burst up to 1.5 s long is always caught, a redo after 2.5 s always allowed.
 */
export const ENROLLMENT_REDO_DELAY_SECONDS = 2;

function enrolledMomentsAgo(sealedSecret: string): boolean {
  const sealedAt = SecretBox.sealedAt(sealedSecret);
  return sealedAt !== undefined && Date.now() - sealedAt.getTime() < ENROLLMENT_REDO_DELAY_SECONDS * 1000;
}

function concurrentEnrollment(log: Logger, username: string): HttpError {
  log.info('second_factor_not_enrolled', { username, reason: 'concurrent enrollment' });
  return new HttpError(409, 'already_enrolled', 'A second factor was enrolled for this account a moment ago; scan the QR code that request answered, or ask again in a few seconds.');
}

const alreadyActive = (): HttpError => new HttpError(409, 'already_enrolled', 'This account is already active with a second factor.');

export const generate2fa = jsonFunction<Generate2faRequest>('generate-2fa', 'Generate2faRequest', async (runtime, { body, log }) => {
  const username = usernameOf(body.username);
  const token = tokenOf(body.enrollment_token);
  const { db, config, secrets } = runtime;
  const tokenHash = token === undefined ? undefined : hashToken(token);

  const refusal = async (): Promise<HttpError> => ((await findStatus(db, username)) === 'active' ? alreadyActive() : invalidToken());

  // What is stored now: the update below replaces exactly this, or nothing.
  const current = tokenHash === undefined ? undefined : await findEnrollment(db, username, tokenHash);
  if (tokenHash === undefined || current === undefined) throw await refusal();
  if (current.sealedSecret !== null && enrolledMomentsAgo(current.sealedSecret)) throw concurrentEnrollment(log, username);

  const secret = newTotpSecret();
  const uri = otpauthUri(secret, username, config.totpIssuer);
  const qrCode = await qrPngBase64(uri);

  if (!(await enrollSecondFactor(db, username, tokenHash, current.sealedSecret, secrets.encrypt(secret)))) {
    // Still enrollable: another request with this token stored its secret while this one
    // ran. Its QR code is the one that works; this caller must not be told otherwise.
    if ((await findEnrollment(db, username, tokenHash)) === undefined) throw await refusal();
    throw concurrentEnrollment(log, username);
  }

  log.info('second_factor_enrolled', { username });
  return {
    status: 200,
    body: {
      message: 'Scan the QR code with your authenticator app, then sign in with its first code.',
      username,
      qr_code_2fa_base64: qrCode,
      manual_entry_key: secret,
      otpauth_uri: uri,
    },
  };
});

http('generate-2fa', generate2fa);
