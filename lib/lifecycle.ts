// The account lifecycle of the contract (§4–6) as pure decisions over an account's state
// as the database reports it. No I/O here: the handlers read the state (locked, inside a
// transaction, where it matters), ask what to do, then apply it.
import { HttpError, accountExists, invalidToken } from './http/errors.js';

export type AccountStatus = 'invited' | 'pending' | 'active' | 'disabled';

/** What generate-password needs to know about an existing account. */
export interface PasswordChangeState {
  status: AccountStatus;
  /** The `expired` flag is set, or the credentials are older than the maximum age. */
  isExpired: boolean;
  enrollmentOpen: boolean;
  invitationValid: boolean;
  renewalValid: boolean;
}

export interface PasswordChangeRequest {
  invitationToken?: string;
  renewalToken?: string;
}

/** create: a new row (201). reset: new password on an existing row, 201, or 200 for a renewal. */
export type PasswordChange = { kind: 'create'; status: 201 } | { kind: 'reset'; status: 200 | 201 };

const CREATE: PasswordChange = { kind: 'create', status: 201 };

export function decidePasswordChange(
  account: PasswordChangeState | undefined,
  request: PasswordChangeRequest,
  selfRegistration: boolean,
): PasswordChange {
  const { invitationToken, renewalToken } = request;
  if (account === undefined) {
    // A token for an account that does not exist is a wrong token; without one, only
    // self-registration may create the account.
    if (invitationToken !== undefined || renewalToken !== undefined || !selfRegistration) throw invalidToken();
    return CREATE;
  }
  switch (account.status) {
    case 'invited':
      if (account.invitationValid) return { kind: 'reset', status: 201 };
      if (invitationToken !== undefined) throw invalidToken();
      throw accountExists();
    case 'pending':
      // Someone is enrolling right now: never let a second caller replace the password.
      // Once the window lapsed without activation, the account may start over.
      if (account.enrollmentOpen) throw accountExists();
      return { kind: 'reset', status: 201 };
    case 'active':
      if (!account.isExpired) throw accountExists();
      if (account.renewalValid) return { kind: 'reset', status: 200 };
      if (renewalToken !== undefined) throw invalidToken();
      throw accountExists();
    case 'disabled':
      throw accountExists();
  }
}

/** What authenticate sees once both factors are proven. */
export interface LoginState {
  status: AccountStatus;
  isExpired: boolean;
}

export type LoginOutcome = 'disabled' | 'expired' | 'activated' | 'signed_in';

export function decideLogin(account: LoginState): LoginOutcome {
  if (account.status === 'disabled') return 'disabled';
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
