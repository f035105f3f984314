// The account lifecycle of the contract (§4–6) as pure decisions over an account's state
// as the database reports it. No I/O here: the handlers read the state (locked, inside a
// transaction, where it matters), ask what to do, then apply it.
//
// Two rules close the takeover paths a security review found:
// - a token that is given must be valid for this account, or the answer is the one
//   401 invalid_token, whatever the account's state (no state can be probed);
// - an account that was ever active, or that HR created, is never given a password by
//   name alone: renewals are staged beside the credentials in use (§4), and only a
//   self-registered account that never activated may start over once its window lapsed.
import { HttpError, accountExists, invalidToken } from './http/errors.js';

export type AccountStatus = 'invited' | 'pending' | 'active' | 'disabled';
export type Provenance = 'seed' | 'self' | 'hr';
export type TokenKind = 'invitation' | 'renewal' | 'reset';

/** What generate-password needs to know about an existing account. */
export interface PasswordChangeState {
  status: AccountStatus;
  provenance: Provenance;
  /** activated_at is set: the account has signed in with both factors at least once. */
  everActive: boolean;
  enrollmentOpen: boolean;
  /** The token given (if any) is this account's token of that kind, and still in force. */
  tokenValid: boolean;
}

/** The token a generate-password request carries, at most one. */
export interface PresentedToken {
  kind: TokenKind;
  token: string;
}

/**
 * create: a new pending row (201). restart: a new password on a pending row that never
 * activated, its second factor cleared (201). stage: new credentials kept beside the
 * ones in use until the first sign-in with both (200).
 */
export type PasswordChange =
  { kind: 'create'; status: 201 } | { kind: 'restart'; status: 201 } | { kind: 'stage'; status: 200 };

const CREATE: PasswordChange = { kind: 'create', status: 201 };
const RESTART: PasswordChange = { kind: 'restart', status: 201 };
const STAGE: PasswordChange = { kind: 'stage', status: 200 };

export function decidePasswordChange(
  account: PasswordChangeState | undefined,
  token: PresentedToken | undefined,
  selfRegistration: boolean,
): PasswordChange {
  if (token !== undefined) {
    if (account === undefined || !account.tokenValid) throw invalidToken();
    // An invitation opens the account HR created until it is activated; using it again
    // replaces the password the first use issued.
    if (
      token.kind === 'invitation' &&
      (account.status === 'invited' || account.status === 'pending') &&
      !account.everActive
    )
      return RESTART;
    // A renewal, or the helpdesk's reset: staged beside the credentials in use.
    if ((token.kind === 'renewal' || token.kind === 'reset') && account.status === 'active') return STAGE;
    throw invalidToken();
  }
  if (account === undefined) {
    if (!selfRegistration) throw invalidToken();
    return CREATE;
  }
  const startsOver =
    account.status === 'pending' && account.provenance !== 'hr' && !account.everActive && !account.enrollmentOpen;
  if (startsOver) return RESTART;
  throw accountExists();
}

/** What authenticate sees once both factors are proven. */
export interface LoginState {
  status: AccountStatus;
  isExpired: boolean;
}

/** Which credentials the factors were proven against: those in use, or the staged ones. */
export type CredentialSet = 'current' | 'staged';

export type LoginOutcome = 'disabled' | 'expired' | 'activated' | 'signed_in' | 'promoted';

export function decideLogin(account: LoginState, proven: CredentialSet): LoginOutcome {
  if (account.status === 'disabled') return 'disabled';
  // Staged credentials are new: signing in with them renews the account, expired or not.
  if (proven === 'staged') return 'promoted';
  if (account.isExpired) return 'expired';
  if (account.status === 'pending') return 'activated';
  return 'signed_in';
}

export function accountDisabled(): HttpError {
  return new HttpError(403, 'account_disabled', 'This account has been disabled.');
}

export function credentialsExpired(renewalToken: string, renewalExpiresAt: Date): HttpError {
  return new HttpError(
    403,
    'credentials_expired',
    'Your password and second factor have expired; renew them with the renewal token.',
    {},
    { expired: true, renewal_token: renewalToken, renewal_expires_at: renewalExpiresAt.toISOString() },
  );
}
