// generate-password: creates an account, or gives an existing one a new password when the
// lifecycle allows it (accepted invitation, lapsed enrollment, renewal). The password
// leaves only inside the QR code, once; the database keeps its bcrypt hash.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { accountExists } from '../../lib/http/errors.js';
import { decidePasswordChange } from '../../lib/lifecycle.js';
import { findForPasswordChange, insertPending, resetCredentials } from '../../lib/db/accounts.js';
import { generatePassword as newPassword } from '../../lib/crypto/password.js';
import { hashToken, issueToken } from '../../lib/crypto/tokens.js';
import { qrPngBase64 } from '../../lib/qr.js';
import { tokenOf } from '../../lib/validation.js';
import { usernameOf } from '../../lib/usernames.js';
import type { GeneratePasswordRequest } from '../../lib/validation.js';

export const generatePassword = jsonFunction<GeneratePasswordRequest>('generate-password', 'GeneratePasswordRequest', async (runtime, { body, log }) => {
  const username = usernameOf(body.username);
  const invitationToken = tokenOf(body.invitation_token);
  const renewalToken = tokenOf(body.renewal_token);
  const request = {
    ...(invitationToken === undefined ? {} : { invitationToken }),
    ...(renewalToken === undefined ? {} : { renewalToken }),
  };
  const digests = {
    ...(request.invitationToken === undefined ? {} : { invitation: hashToken(request.invitationToken) }),
    ...(request.renewalToken === undefined ? {} : { renewal: hashToken(request.renewalToken) }),
  };
  const { config, db, hasher } = runtime;

  // Refuse early, before spending a bcrypt hash on a request that cannot succeed.
  decidePasswordChange(await findForPasswordChange(db, username, config.credentialMaxAge, digests, false), request, config.selfRegistration);

  const password = newPassword();
  const [passwordHash, qrCode] = await Promise.all([hasher.hash(password), qrPngBase64(password)]);
  const enrollment = issueToken();
  const change = { username, passwordHash, enrollmentTokenHash: enrollment.hash, enrollmentTtl: config.enrollmentTtl };

  // Decide again on the locked row: the state may have changed while the hash ran.
  const { status, enrollmentExpiresAt } = await db.transaction(async (tx) => {
    const account = await findForPasswordChange(tx, username, config.credentialMaxAge, digests, true);
    const decision = decidePasswordChange(account, request, config.selfRegistration);
    if (decision.kind === 'create') {
      const expiresAt = await insertPending(tx, change);
      if (expiresAt === undefined) throw accountExists();
      return { status: decision.status, enrollmentExpiresAt: expiresAt };
    }
    return { status: decision.status, enrollmentExpiresAt: await resetCredentials(tx, change) };
  });

  log.info('password_issued', { username, outcome: status === 200 ? 'renewed' : 'created' });
  return {
    status,
    body: {
      message: status === 200 ? 'Password renewed; scan the QR code now, it will not be shown again.' : 'Account created; scan the QR code now, it will not be shown again.',
      username,
      qr_code_base64: qrCode,
      enrollment_token: enrollment.token,
      enrollment_expires_at: enrollmentExpiresAt.toISOString(),
    },
  };
});

http('generate-password', generatePassword);
