// generate-2fa: enrolls the TOTP second factor that an enrollment token opens — the
// account's own while it is pending, the staged one during a renewal or after a
// recovery-code sign-in — with ten recovery codes. Idempotent per token: the first call
// stores a secret and codes, every call (concurrent ones included) answers the stored
// ones, so a lost scan or a double click never shows a dead QR code. The secret is
// stored Fernet-encrypted; the codes as digests (and, while the token is valid, sealed
// so they can be shown again).
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { internal, invalidToken } from '../../lib/http/errors.js';
import { enrollSecondFactor } from '../../lib/db/accounts.js';
import { hashToken } from '../../lib/crypto/tokens.js';
import { newRecoveryCodes } from '../../lib/crypto/recovery-codes.js';
import { newTotpSecret, otpauthUri } from '../../lib/crypto/totp.js';
import { qrPngBase64 } from '../../lib/qr.js';
import { recordAudit } from '../../lib/db/audit.js';
import { selfContext } from '../../lib/audit-context.js';
import { tokenOf } from '../../lib/validation.js';
import { usernameOf } from '../../lib/usernames.js';

export const generate2fa = jsonFunction('generate-2fa', 'generate2fa', async (runtime, request) => {
  const { body, log } = request;
  const username = usernameOf(body.username);
  const token = tokenOf(body.enrollment_token);
  const { db, config, secrets } = runtime;
  // One answer for a missing, wrong, used or lapsed token, whatever the account's state.
  if (token === undefined) throw invalidToken();

  const codes = newRecoveryCodes();
  const fresh = {
    sealedSecret: secrets.encrypt(newTotpSecret()),
    sealedCodes: secrets.encrypt(JSON.stringify(codes.codes)),
    codeDigests: codes.digests,
  };
  const { stored, events } = await db.transaction(async (tx) => {
    const stored = await enrollSecondFactor(tx, username, hashToken(token), fresh);
    // Recorded once per token: a repeated call answers what the first one stored.
    const first = stored !== undefined && stored.sealedSecret === fresh.sealedSecret;
    const events = first
      ? [await recordAudit(tx, selfContext('generate-2fa', request), { type: 'second-factor.enrolled', username })]
      : [];
    return { stored, events };
  });
  if (stored === undefined) throw invalidToken();
  runtime.publisher.nudge(events);
  const secret = secrets.decrypt(stored.sealedSecret);
  const sealedCodes = secrets.decrypt(stored.sealedCodes);
  if (secret === undefined || sealedCodes === undefined) {
    log.error('second_factor_unreadable', { username, reason: 'no configured Fernet key opens the stored secret' });
    throw internal();
  }
  const uri = otpauthUri(secret, username, config.totpIssuer);
  const qrCode = await qrPngBase64(uri);

  log.info('second_factor_enrolled', { username });
  return {
    status: 200,
    body: {
      message:
        'Scan the QR code with your authenticator app, keep the recovery codes somewhere safe, then sign in with the first code.',
      username,
      qr_code_2fa_base64: qrCode,
      manual_entry_key: secret,
      otpauth_uri: uri,
      recovery_codes: JSON.parse(sealedCodes) as string[],
    },
  };
});

http('generate-2fa', generate2fa);
