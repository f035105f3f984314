// generate-2fa: enrolls (or, inside the same enrollment window, re-enrolls) the TOTP
// second factor of a pending account. The secret is stored Fernet-encrypted.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { HttpError, invalidToken } from '../../lib/http/errors.js';
import { enrollSecondFactor, findEnrollment, findStatus } from '../../lib/db/accounts.js';
import { hashToken } from '../../lib/crypto/tokens.js';
import { newTotpSecret, otpauthUri } from '../../lib/crypto/totp.js';
import { qrPngBase64 } from '../../lib/qr.js';
import type { Logger } from '../../lib/log.js';
import { tokenOf } from '../../lib/validation.js';
import { usernameOf } from '../../lib/usernames.js';
import type { Generate2faRequest } from '../../lib/validation.js';

function concurrentEnrollment(log: Logger, username: string): HttpError {
  log.info('second_factor_not_enrolled', { username, reason: 'concurrent enrollment' });
  return new HttpError(409, 'already_enrolled', 'Another request enrolled a second factor for this account at the same moment; scan the QR code it answered, or ask again.');
}

const alreadyActive = (): HttpError => new HttpError(409, 'already_enrolled', 'This account is already active with a second factor.');

export const generate2fa = jsonFunction<Generate2faRequest>('generate-2fa', 'Generate2faRequest', async (runtime, { body, log }) => {
  const username = usernameOf(body.username);
  const token = tokenOf(body.enrollment_token);
  const { db, config, secrets } = runtime;
  const tokenHash = token === undefined ? undefined : hashToken(token);

  const refusal = async (): Promise<HttpError> => ((await findStatus(db, username)) === 'active' ? alreadyActive() : invalidToken());

  // What is stored now: the update below replaces exactly this, or nothing. A later call
  // with the same token (a lost scan) reads the secret stored before it and replaces it,
  // as the contract says; of calls that read the same state, exactly one is stored.
  const current = tokenHash === undefined ? undefined : await findEnrollment(db, username, tokenHash);
  if (tokenHash === undefined || current === undefined) throw await refusal();

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
