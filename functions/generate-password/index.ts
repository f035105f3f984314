// generate-password: creates an account, or issues a new password when the lifecycle
// allows it: an accepted invitation, a self-registration whose window lapsed (both before
// activation), or a renewal or helpdesk reset, staged beside the credentials in use. The password
// leaves only inside the QR code, once; the database keeps its bcrypt hash.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { accountExists, invalidRequest } from '../../lib/http/errors.js';
import { decidePasswordChange } from '../../lib/lifecycle.js';
import type { PasswordChange, PresentedToken } from '../../lib/lifecycle.js';
import { findForPasswordChange, insertPending, restartEnrollment, stageCredentials } from '../../lib/db/accounts.js';
import type { NewPassword, TokenDigest } from '../../lib/db/accounts.js';
import type { Queryable } from '../../lib/db/database.js';
import { generatePassword as newPassword } from '../../lib/crypto/password.js';
import { hashToken, issueToken } from '../../lib/crypto/tokens.js';
import { qrPngBase64 } from '../../lib/qr.js';
import { recordAudit } from '../../lib/db/audit.js';
import { selfContext } from '../../lib/audit-context.js';
import { claimSkeleton, skeletonTaken } from '../../lib/db/usernames.js';
import { skeletonOf } from '../../lib/usernames.js';
import { tokenOf } from '../../lib/validation.js';
import { usernameOf } from '../../lib/usernames.js';
import type { RequestBody } from '../../lib/openapi-types.js';

/** The one token the request carries, if any; two at once is a malformed request. */
function presentedToken(body: RequestBody<'generatePassword'>): PresentedToken | undefined {
  const given: PresentedToken[] = [];
  const invitation = tokenOf(body.invitation_token);
  const renewal = tokenOf(body.renewal_token);
  const reset = tokenOf(body.reset_token);
  if (invitation !== undefined) given.push({ kind: 'invitation', token: invitation });
  if (renewal !== undefined) given.push({ kind: 'renewal', token: renewal });
  if (reset !== undefined) given.push({ kind: 'reset', token: reset });
  if (given.length > 1)
    throw invalidRequest('Send at most one of "invitation_token", "renewal_token" and "reset_token".');
  return given[0];
}

async function apply(tx: Queryable, decision: PasswordChange, change: NewPassword): Promise<Date> {
  switch (decision.kind) {
    case 'create': {
      // Never an account that looks like another one (jose.fıno beside jose.fino).
      const claim = await claimSkeleton(tx, change.username);
      if (claim.taken) throw accountExists();
      const expiresAt = await insertPending(tx, { ...change, usernameSkeleton: claim.skeleton });
      if (expiresAt === undefined) throw accountExists();
      return expiresAt;
    }
    case 'restart':
      return restartEnrollment(tx, change);
    case 'stage':
      return stageCredentials(tx, change);
  }
}

/** Why a password was issued, for the audit trail (never the token itself). */
function issueReason(decision: PasswordChange, token: PresentedToken | undefined): string {
  if (decision.kind === 'create') return 'created';
  if (decision.kind === 'restart') return token?.kind === 'invitation' ? 'invitation' : 'restart';
  return token?.kind === 'reset' ? 'reset' : 'renewal';
}

const MESSAGES: Record<PasswordChange['kind'], string> = {
  create: 'Account created; scan the QR code now, it will not be shown again.',
  restart: 'Password issued; scan the QR code now, it will not be shown again.',
  stage:
    'New password issued; scan the QR code now, it will not be shown again. Your current password and code keep working until you sign in with the new ones.',
};

export const generatePassword = jsonFunction('generate-password', 'generatePassword', async (runtime, request) => {
  const { body, log, signal } = request;
  const username = usernameOf(body.username);
  const token = presentedToken(body);
  const digest: TokenDigest | undefined =
    token === undefined ? undefined : { kind: token.kind, hash: hashToken(token.token) };
  const { config, db, hasher } = runtime;

  // Refuse early, before spending a bcrypt hash on a request that cannot succeed.
  const early = decidePasswordChange(
    await findForPasswordChange(db, username, digest, false),
    token,
    config.selfRegistration,
  );
  if (early.kind === 'create' && (await skeletonTaken(db, skeletonOf(username), username))) throw accountExists();

  const password = newPassword();
  const [passwordHash, qrCode] = await Promise.all([hasher.hash(password, signal), qrPngBase64(password)]);
  const enrollment = issueToken();
  const change = { username, passwordHash, enrollmentTokenHash: enrollment.hash, enrollmentTtl: config.enrollmentTtl };

  // Decide again on the locked row: the state may have changed while the hash ran.
  const audit = selfContext('generate-password', request);
  const { decision, enrollmentExpiresAt, events } = await db.transaction(async (tx) => {
    const decision = decidePasswordChange(
      await findForPasswordChange(tx, username, digest, true),
      token,
      config.selfRegistration,
    );
    const enrollmentExpiresAt = await apply(tx, decision, change);
    const events: string[] = [];
    if (decision.kind === 'create')
      events.push(await recordAudit(tx, audit, { type: 'account.created', username, details: { provenance: 'self' } }));
    events.push(
      await recordAudit(tx, audit, {
        type: 'password.issued',
        username,
        details: { reason: issueReason(decision, token) },
      }),
    );
    return { decision, enrollmentExpiresAt, events };
  });
  runtime.publisher.nudge(events);

  log.info('password_issued', { username, outcome: decision.kind });
  return {
    status: decision.status,
    body: {
      message: MESSAGES[decision.kind],
      username,
      qr_code_base64: qrCode,
      enrollment_token: enrollment.token,
      enrollment_expires_at: enrollmentExpiresAt.toISOString(),
    },
  };
});

http('generate-password', generatePassword);
