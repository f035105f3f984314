// generate-2fa: enrolls the TOTP second factor that an enrollment token opens — the
// account's own while it is pending, the staged one during a renewal. Idempotent per
// token: the first call stores a secret, every call (concurrent ones included) answers
// the stored one, so a lost scan or a double click never shows a dead QR code. The
// secret is stored Fernet-encrypted.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { internal, invalidToken } from '../../lib/http/errors.js';
import { enrollSecondFactor } from '../../lib/db/accounts.js';
import { hashToken } from '../../lib/crypto/tokens.js';
import { newTotpSecret, otpauthUri } from '../../lib/crypto/totp.js';
import { qrPngBase64 } from '../../lib/qr.js';
import { tokenOf } from '../../lib/validation.js';
import { usernameOf } from '../../lib/usernames.js';
import type { Generate2faRequest } from '../../lib/validation.js';

export const generate2fa = jsonFunction<Generate2faRequest>('generate-2fa', 'Generate2faRequest', async (runtime, { body, log }) => {
  const username = usernameOf(body.username);
  const token = tokenOf(body.enrollment_token);
  const { db, config, secrets } = runtime;
  // One answer for a missing, wrong, used or lapsed token, whatever the account's state.
  if (token === undefined) throw invalidToken();

  const sealed = await enrollSecondFactor(db, username, hashToken(token), secrets.encrypt(newTotpSecret()));
  if (sealed === undefined) throw invalidToken();
  const secret = secrets.decrypt(sealed);
  if (secret === undefined) {
    log.error('second_factor_unreadable', { username, reason: 'no configured Fernet key opens the stored secret' });
    throw internal();
  }
  const uri = otpauthUri(secret, username, config.totpIssuer);
  const qrCode = await qrPngBase64(uri);

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
