// authenticate: throttle, password, second factor (a TOTP code, or a recovery code when
// the phone is lost), then the lifecycle: activate a pending account, promote staged
// credentials (a renewal's first sign-in), reveal expiry (with a renewal token) or
// disablement only to a caller who proved both factors. Every failure is the same 401
// and costs about the same time.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { invalidCredentials, invalidRequest, tooManyRequests } from '../../lib/http/errors.js';
import { accountDisabled, credentialsExpired, decideLogin } from '../../lib/lifecycle.js';
import type { LoginState } from '../../lib/lifecycle.js';
import * as signin from '../../lib/db/sign-in.js';
import type { CredentialPair, LoginCredentials, SecondFactor, SignedIn } from '../../lib/db/sign-in.js';
import * as throttle from '../../lib/db/throttle.js';
import { logAccountLocked } from '../../lib/account-locked.js';
import { recordLocked, recordOutcome, recordRefusal } from '../../lib/sign-in-audit.js';
import type { RefusalReason } from '../../lib/sign-in-audit.js';
import { selfContext } from '../../lib/audit-context.js';
import type { AuditContext, AuditDetails, AuditType } from '../../lib/audit.js';
import type { Queryable } from '../../lib/db/database.js';
import { issueToken } from '../../lib/crypto/tokens.js';
import { recoveryCodeDigest } from '../../lib/crypto/recovery-codes.js';
import { verifyTotp } from '../../lib/crypto/totp.js';
import { usernameOf } from '../../lib/usernames.js';
import type { RequestBody } from '../../lib/openapi-types.js';
import type { Runtime } from '../../lib/runtime.js';

/** What the caller offers as the second factor. */
type Offered = { kind: 'totp'; code: string } | { kind: 'recovery'; code: string };

function offeredFactor(body: RequestBody<'authenticate'>): Offered {
  const { totp, recovery_code: recovery } = body;
  if (totp !== undefined && recovery === undefined) return { kind: 'totp', code: totp };
  if (recovery !== undefined && totp === undefined) return { kind: 'recovery', code: recovery };
  throw invalidRequest('Send exactly one of "totp" and "recovery_code".');
}

/** The TOTP step `code` matches for the sealed secret, or undefined. */
async function matchCode(
  runtime: Runtime,
  sealedSecret: string | null,
  code: string,
  afterStep: number | null,
): Promise<number | undefined> {
  if (sealedSecret === null) return undefined;
  const secret = runtime.secrets.decrypt(sealedSecret);
  if (secret === undefined) {
    runtime.log.warn('second_factor_unreadable', { reason: 'no configured Fernet key opens the stored secret' });
    return undefined;
  }
  return verifyTotp(secret, code, afterStep);
}

/** The second factor offered, checked against the pair whose password matched. */
async function matchFactor(
  runtime: Runtime,
  offered: Offered,
  credentials: LoginCredentials,
  set: 'current' | 'staged',
): Promise<SecondFactor | undefined> {
  if (offered.kind === 'recovery') {
    if (set !== 'current') return undefined;
    const digest = recoveryCodeDigest(offered.code);
    return credentials.recoveryCodeDigests.includes(digest) ? { kind: 'recovery', digest } : undefined;
  }
  const pair = set === 'current' ? credentials.current : credentials.staged;
  // The staged secret has never been used: any of its steps is new.
  const step = await matchCode(
    runtime,
    pair?.sealedSecret ?? null,
    offered.code,
    set === 'current' ? credentials.lastTotpStep : null,
  );
  return step === undefined ? undefined : { kind: 'totp', set, step };
}

/**
 * Both factors, checked outside any transaction, against the credentials in use, then
 * against the staged ones. Every failure costs two bcrypt verifications (dummy ones
 * where there is no hash), whatever the account's state, so that neither a right
 * password with a wrong code nor a renewal under way can be told by the time taken.
 */
type Checked = { ok: true; pair: CredentialPair; factor: SecondFactor } | { ok: false; reason: RefusalReason };

async function checkFactors(
  runtime: Runtime,
  credentials: LoginCredentials | undefined,
  password: string,
  offered: Offered,
  signal: AbortSignal,
): Promise<Checked> {
  const { hasher } = runtime;
  const verify = (hash: string | null | undefined): Promise<boolean> =>
    hash ? hasher.verify(password, hash, signal) : hasher.verifyDummy(password, signal);

  const current = credentials?.current;
  // The second factor is checked while a thread verifies the password (a quarter of a
  // second the event loop would otherwise spend waiting): it changes nothing, it is
  // checked whatever the password, and only the two together sign in.
  const [currentPasswordOk, currentFactor] = await Promise.all([
    verify(current?.passwordHash),
    credentials === undefined ? undefined : matchFactor(runtime, offered, credentials, 'current'),
  ]);
  if (credentials !== undefined && currentPasswordOk && currentFactor !== undefined)
    return { ok: true, pair: credentials.current, factor: currentFactor };
  // A staged set without a password of its own (a new authenticator only) shares the one in use.
  const staged = credentials?.staged;
  const ownStagedPassword = staged !== undefined && staged.passwordHash !== current?.passwordHash;
  const stagedPasswordOk = await verify(ownStagedPassword ? staged.passwordHash : undefined);
  if (credentials !== undefined && staged !== undefined && (ownStagedPassword ? stagedPasswordOk : currentPasswordOk)) {
    const factor = await matchFactor(runtime, offered, credentials, 'staged');
    if (factor !== undefined) return { ok: true, pair: staged, factor };
  }
  if (credentials === undefined) return { ok: false, reason: 'unknown_user' };
  if (!currentPasswordOk && !stagedPasswordOk) return { ok: false, reason: 'password' };
  return { ok: false, reason: offered.kind === 'recovery' ? 'recovery_code' : 'code' };
}

type Outcome =
  | { decision: 'disabled' }
  | { decision: 'expired'; renewalToken: string; renewalExpiresAt: Date }
  | {
      decision: 'signed_in' | 'activated' | 'promoted' | 'recovered';
      signedIn: SignedIn;
      renewal?: { token: string; expiresAt: Date };
      enrollment?: { token: string; expiresAt: Date };
    };

/** What each outcome is in the audit trail. */
const OUTCOME_RECORDS: Record<Outcome['decision'], AuditType> = {
  disabled: 'signin.failed',
  expired: 'credentials.expired',
  activated: 'account.activated',
  signed_in: 'signin.succeeded',
  promoted: 'credentials.renewed',
  recovered: 'recovery-code.used',
};

/** On the locked row, once both factors are proven: what the sign-in does, and its record. */
async function conclude(
  tx: Queryable,
  runtime: Runtime,
  audit: AuditContext,
  username: string,
  factor: SecondFactor,
  state: LoginState,
): Promise<{ outcome: Outcome; event: string }> {
  const outcome = await apply(tx, runtime, username, factor, state);
  const details: AuditDetails = {
    second_factor: factor.kind,
    ...(outcome.decision === 'disabled' ? { reason: 'account_disabled' } : {}),
  };
  if (outcome.decision === 'recovered') details.recovery_codes_left = outcome.signedIn.recoveryCodesLeft;
  return { outcome, event: await recordOutcome(tx, audit, username, OUTCOME_RECORDS[outcome.decision], details) };
}

async function apply(
  tx: Queryable,
  runtime: Runtime,
  username: string,
  factor: SecondFactor,
  state: LoginState,
): Promise<Outcome> {
  const { config } = runtime;
  const decision = decideLogin(state, factor.kind === 'totp' ? factor.set : 'current');
  if (decision === 'disabled') {
    await signin.consumeFactor(tx, username, factor);
    return { decision };
  }
  if (decision === 'expired') {
    await signin.consumeFactor(tx, username, factor);
    const renewal = issueToken();
    return {
      decision,
      renewalToken: renewal.token,
      renewalExpiresAt: await signin.markExpired(tx, username, renewal.hash, config.renewalTtl),
    };
  }
  let outcome: Outcome;
  if (factor.kind === 'recovery') {
    const enrollment = issueToken();
    const used = await signin.useRecoveryCode(
      tx,
      username,
      factor.digest,
      { tokenHash: enrollment.hash, ttl: config.enrollmentTtl },
      config.credentialMaxAge,
    );
    outcome = {
      decision: 'recovered',
      signedIn: used,
      enrollment: { token: enrollment.token, expiresAt: used.enrollmentExpiresAt },
    };
  } else if (decision === 'promoted') {
    outcome = { decision, signedIn: await signin.promoteStaged(tx, username, factor.step, config.credentialMaxAge) };
  } else {
    outcome = { decision, signedIn: await signin.signIn(tx, username, factor.step, config.credentialMaxAge) };
  }
  const renewal = issueToken();
  const renewalExpiresAt = await signin.offerRenewal(
    tx,
    username,
    { tokenHash: renewal.hash, ttl: config.renewalTtl },
    config.credentialMaxAge,
    config.renewalWindow,
  );
  return renewalExpiresAt === undefined
    ? outcome
    : { ...outcome, renewal: { token: renewal.token, expiresAt: renewalExpiresAt } };
}

export const authenticate = jsonFunction('authenticate', 'authenticate', async (runtime, request) => {
  const { body, log, clientAddress, signal } = request;
  const username = usernameOf(body.username);
  const offered = offeredFactor(body);
  const { db, config, publisher } = runtime;
  const audit = selfContext('authenticate', request);

  // The two verifications of checkFactors, admitted to the bcrypt queue (or 503 at once)
  // before the throttle counts anything: a full queue must not cost an attempt.
  runtime.hasher.admit(signal, 2);
  // Counted as a failure from here until a success resets it (see lib/db/throttle.ts).
  const locked: string[] = [];
  const claim = await throttle.claimAttempt(db, { username, clientAddress }, async (tx, lock) => {
    logAccountLocked(log, lock);
    locked.push(await recordLocked(tx, audit, lock));
  });
  publisher.nudge(locked);
  if (!claim.claimed) {
    log.info('sign_in_throttled', { username, client_address: clientAddress, scopes: claim.scopes });
    await recordOutcome(db, audit, username, 'signin.throttled', { scopes: claim.scopes.join(',') });
    throw tooManyRequests(claim.retryAfter);
  }

  const credentials = await signin.findLoginCredentials(db, username);
  const checked = await checkFactors(runtime, credentials, body.password, offered, signal);

  const concluded = !checked.ok
    ? undefined
    : await db.transaction(async (tx) => {
        const state = await signin.lockForLogin(tx, username, checked.pair, checked.factor, config.credentialMaxAge);
        if (state === undefined) return undefined; // the factor was used meanwhile, or the credentials changed
        await throttle.reset(tx, claim.attempt);
        return conclude(tx, runtime, audit, username, checked.factor, state);
      });

  if (concluded === undefined) {
    log.info('sign_in_refused', { username });
    publisher.nudge(await recordRefusal(db, audit, username, checked.ok ? 'replay' : checked.reason));
    throw invalidCredentials();
  }
  const { outcome, event } = concluded;
  publisher.nudge([event]);
  log.info('sign_in', { username, outcome: outcome.decision, second_factor: offered.kind });
  switch (outcome.decision) {
    case 'disabled':
      throw accountDisabled();
    case 'expired':
      throw credentialsExpired(outcome.renewalToken, outcome.renewalExpiresAt);
    default: {
      const { signedIn, renewal, enrollment } = outcome;
      return {
        status: 200,
        body: {
          authenticated: true as const,
          username,
          expires_at: signedIn.expiresAt.toISOString(),
          recovery_codes_left: signedIn.recoveryCodesLeft,
          ...(renewal === undefined
            ? {}
            : { renewal_token: renewal.token, renewal_expires_at: renewal.expiresAt.toISOString() }),
          ...(enrollment === undefined
            ? {}
            : { enrollment_token: enrollment.token, enrollment_expires_at: enrollment.expiresAt.toISOString() }),
        },
      };
    }
  }
});

http('authenticate', authenticate);
