// generate-2fa: enrolls (or, inside the same enrollment window, re-enrolls) the TOTP
// second factor of a pending account. The secret is stored Fernet-encrypted.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { HttpError, invalidToken } from '../../lib/http/errors.js';
import { enrollSecondFactor, findStatus } from '../../lib/db/accounts.js';
import { hashToken } from '../../lib/crypto/tokens.js';
import { newTotpSecret, otpauthUri } from '../../lib/crypto/totp.js';
import { qrPngBase64 } from '../../lib/qr.js';
import { tokenOf, usernameOf } from '../../lib/validation.js';
import type { Generate2faRequest } from '../../lib/validation.js';

export const generate2fa = jsonFunction<Generate2faRequest>('generate-2fa', 'Generate2faRequest', async (runtime, { body, log }) => {
  const username = usernameOf(body.username);
  const token = tokenOf(body.enrollment_token);
  const { db, config, secrets } = runtime;

  const secret = newTotpSecret();
  const uri = otpauthUri(secret, username, config.totpIssuer);
  const qrCode = await qrPngBase64(uri);

  if (token === undefined || !(await enrollSecondFactor(db, username, hashToken(token), secrets.encrypt(secret)))) {
    if ((await findStatus(db, username)) === 'active') {
      throw new HttpError(409, 'already_enrolled', 'This account is already active with a second factor.');
    }
    throw invalidToken();
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
