// authenticate: throttle, password, TOTP, then the lifecycle: activate a pending account,
// promote staged credentials (a renewal's first sign-in), reveal expiry (with a renewal
// token) or disablement only to a caller who proved both factors. Every failure is the same 401 and costs about the same time.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { invalidCredentials, tooManyRequests } from '../../lib/http/errors.js';
import { accountDisabled, credentialsExpired, decideLogin } from '../../lib/lifecycle.js';
import type { CredentialSet } from '../../lib/lifecycle.js';
import * as accounts from '../../lib/db/accounts.js';
import * as throttle from '../../lib/db/throttle.js';
import { issueToken } from '../../lib/crypto/tokens.js';
import { verifyTotp } from '../../lib/crypto/totp.js';
import { usernameOf } from '../../lib/usernames.js';
import type { AuthenticateRequest } from '../../lib/validation.js';
import type { Runtime } from '../../lib/runtime.js';

/** Both factors as proven: which credential set they matched, and the TOTP step. */
interface ProvenFactors {
  proven: CredentialSet;
  pair: accounts.CredentialPair;
  step: number;
}

/** The TOTP step `code` matches for the sealed secret, or undefined. */
async function matchCode(runtime: Runtime, sealedSecret: string | null, code: string, afterStep: number | null): Promise<number | undefined> {
  if (sealedSecret === null) return undefined;
  const secret = runtime.secrets.decrypt(sealedSecret);
  if (secret === undefined) {
    runtime.log.warn('second_factor_unreadable', { reason: 'no configured Fernet key opens the stored secret' });
    return undefined;
  }
  return verifyTotp(secret, code, afterStep);
}

/**
 * Both factors, checked outside any transaction, against the credentials in use, then
 * against the staged ones. Every failure costs two bcrypt verifications (dummy ones
 * where there is no hash), whatever the account's state, so that neither a right
 * password with a wrong code nor a renewal under way can be told by the time taken.
 */
async function checkFactors(runtime: Runtime, credentials: accounts.LoginCredentials | undefined, password: string, code: string): Promise<ProvenFactors | undefined> {
  const { hasher } = runtime;
  const verify = (hash: string | null | undefined): Promise<boolean> => (hash ? hasher.verify(password, hash) : hasher.verifyDummy(password));

  const current = credentials?.current;
  const currentPasswordOk = await verify(current?.passwordHash);
  if (current !== undefined && currentPasswordOk) {
    const step = await matchCode(runtime, current.sealedSecret, code, credentials?.lastTotpStep ?? null);
    if (step !== undefined) return { proven: 'current', pair: current, step };
  }
  // A staged set without a password of its own (a new authenticator only) shares the one in use.
  const staged = credentials?.staged;
  const ownStagedPassword = staged !== undefined && staged.passwordHash !== current?.passwordHash;
  const stagedPasswordOk = await verify(ownStagedPassword ? staged.passwordHash : undefined);
  if (staged !== undefined && (ownStagedPassword ? stagedPasswordOk : currentPasswordOk)) {
    // The staged secret has never been used: any of its steps is new.
    const step = await matchCode(runtime, staged.sealedSecret, code, null);
    if (step !== undefined) return { proven: 'staged', pair: staged, step };
  }
  return undefined;
}

export const authenticate = jsonFunction<AuthenticateRequest>('authenticate', 'AuthenticateRequest', async (runtime, { body, log }) => {
  const username = usernameOf(body.username);
  const { password, totp: code } = body;
  const { db, config } = runtime;

  // Counted as a failure from here until a success resets it (see lib/db/throttle.ts).
  const retryAfter = await throttle.claimAttempt(db, username);
  if (retryAfter !== undefined) throw tooManyRequests(retryAfter);

  const credentials = await accounts.findLoginCredentials(db, username);
  const factors = await checkFactors(runtime, credentials, password, code);

  const outcome =
    factors === undefined
      ? undefined
      : await db.transaction(async (tx) => {
          const { proven, pair, step } = factors;
          const state = await accounts.lockForLogin(tx, username, pair, proven, step, config.credentialMaxAge);
          if (state === undefined) return undefined; // the code was used meanwhile, or the credentials changed
          await throttle.reset(tx, username);
          const decision = decideLogin(state, proven);
          switch (decision) {
            case 'disabled':
              await accounts.consumeStep(tx, username, step);
              return { decision } as const;
            case 'expired': {
              const renewal = issueToken();
              const expiresAt = await accounts.markExpired(tx, username, step, renewal.hash, config.renewalTtl);
              return { decision, renewalToken: renewal.token, renewalExpiresAt: expiresAt } as const;
            }
            case 'promoted':
              return { decision, expiresAt: await accounts.promoteStaged(tx, username, step, config.credentialMaxAge) } as const;
            case 'activated':
            case 'signed_in':
              return { decision, expiresAt: await accounts.signIn(tx, username, step, config.credentialMaxAge) } as const;
          }
        });

  if (outcome === undefined) {
    log.info('sign_in_refused', { username });
    throw invalidCredentials();
  }
  log.info('sign_in', { username, outcome: outcome.decision });
  switch (outcome.decision) {
    case 'disabled':
      throw accountDisabled();
    case 'expired':
      throw credentialsExpired(outcome.renewalToken, outcome.renewalExpiresAt);
    default:
      return { status: 200, body: { authenticated: true, username, expires_at: outcome.expiresAt.toISOString() } };
  }
});

http('authenticate', authenticate);
