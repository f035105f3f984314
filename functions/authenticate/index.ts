// authenticate: throttle, password, TOTP, then the lifecycle: activate a pending account,
// reveal expiry (with a renewal token) or disablement only to a caller who proved both
// factors. Every failure is the same 401 and costs about the same time.
import { http } from '@google-cloud/functions-framework';
import { jsonFunction } from '../../lib/http/function.js';
import { invalidCredentials, tooManyRequests } from '../../lib/http/errors.js';
import { accountDisabled, credentialsExpired, decideLogin } from '../../lib/lifecycle.js';
import * as accounts from '../../lib/db/accounts.js';
import * as throttle from '../../lib/db/throttle.js';
import { issueToken } from '../../lib/crypto/tokens.js';
import { verifyTotp } from '../../lib/crypto/totp.js';
import { usernameOf } from '../../lib/usernames.js';
import type { AuthenticateRequest } from '../../lib/validation.js';
import type { Runtime } from '../../lib/runtime.js';

/** Both factors, checked outside any transaction; the matched TOTP step, or undefined. */
async function checkFactors(runtime: Runtime, credentials: accounts.LoginCredentials | undefined, password: string, code: string): Promise<number | undefined> {
  const { hasher, secrets } = runtime;
  const passwordOk = credentials?.passwordHash ? await hasher.verify(password, credentials.passwordHash) : await hasher.verifyDummy(password);
  if (!passwordOk || !credentials?.sealedSecret) return undefined;
  const secret = secrets.decrypt(credentials.sealedSecret);
  if (secret === undefined) {
    runtime.log.warn('second_factor_unreadable', { reason: 'no configured Fernet key opens the stored secret' });
    return undefined;
  }
  return verifyTotp(secret, code, credentials.lastTotpStep);
}

export const authenticate = jsonFunction<AuthenticateRequest>('authenticate', 'AuthenticateRequest', async (runtime, { body, log }) => {
  const username = usernameOf(body.username);
  const { password, totp: code } = body;
  const { db, config } = runtime;

  // Counted as a failure from here until a success resets it (see lib/db/throttle.ts).
  const retryAfter = await throttle.claimAttempt(db, username);
  if (retryAfter !== undefined) throw tooManyRequests(retryAfter);

  const credentials = await accounts.findLoginCredentials(db, username);
  const step = await checkFactors(runtime, credentials, password, code);

  const outcome =
    step === undefined || credentials === undefined
      ? undefined
      : await db.transaction(async (tx) => {
          const state = await accounts.lockForLogin(tx, username, credentials, step, config.credentialMaxAge);
          if (state === undefined) return undefined; // the code was used meanwhile, or the password changed
          await throttle.reset(tx, username);
          const decision = decideLogin(state);
          switch (decision) {
            case 'disabled':
              await accounts.consumeStep(tx, username, step);
              return { decision } as const;
            case 'expired': {
              const renewal = issueToken();
              const expiresAt = await accounts.markExpired(tx, username, step, renewal.hash, config.renewalTtl);
              return { decision, renewalToken: renewal.token, renewalExpiresAt: expiresAt } as const;
            }
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
