// The audit trail's vocabulary (contract §11): what happened, to whom, by whom, from where.
// Lifecycle types are also published as identity events (fr.cofrap.identity.<type>);
// sign-in outcomes stay in the trail. Details are facts only — the type allows strings,
// numbers and booleans, and callers pass no secret, token, password, code or hash.
export const PUBLISHED_TYPES = [
  'account.created',
  'account.invited',
  'account.conflict',
  'password.issued',
  'second-factor.enrolled',
  'account.activated',
  'account.locked',
  'credentials.expired',
  'credentials.renewed',
  'credentials.expiring',
  'credentials.suspicious',
  'recovery-code.used',
  'account.reset-requested',
  'account.disabled',
  'account.enabled',
  'account.unlocked',
  'encryption-key.rotated',
] as const;

// account.unchanged: an HR or helpdesk event handled that changed nothing (an account already
// disabled, not disabled for a re-hire, not active for a reset, already invited and active):
// contract §7 records every event handled, but there is no change to publish.
export const TRAIL_ONLY_TYPES = ['signin.succeeded', 'signin.failed', 'signin.throttled', 'account.unchanged'] as const;

export type PublishedType = (typeof PUBLISHED_TYPES)[number];
export type AuditType = PublishedType | (typeof TRAIL_ONLY_TYPES)[number];

export type AuditDetails = Record<string, string | number | boolean | null>;

/** Who and where a change comes from: the request's context, or an operator's. */
export interface AuditContext {
  /** `self`, an event's `<source>#<id>`, `operator:<name>`, or a function for its own work. */
  actor: string;
  requestId?: string;
  clientAddress?: string;
  /** The function that records it: the identity event's source is /cofrap/identity/<function>. */
  origin: string;
}

export interface AuditEntry {
  type: AuditType;
  username?: string;
  details?: AuditDetails;
}

export const isPublished = (type: AuditType): type is PublishedType =>
  (PUBLISHED_TYPES as readonly string[]).includes(type);

export const identityEventType = (type: PublishedType): string => `fr.cofrap.identity.${type}`;
