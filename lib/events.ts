// HR's and the IT helpdesk's CloudEvents in, our reply events out, with the cloudevents SDK; the `ce-` headers
// are percent-encoded and decoded in cloudevents-http.ts, which the SDK does not do.
// Anything the broker should not retry (not a CloudEvent 1.0, a header that is not
// valid percent-encoding, an unknown type, bad data) is a 400.
import { CloudEvent } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';
import { HeaderEncodingError, binaryMessage, eventFromMessage } from './cloudevents-http.js';
import type { BinaryMessage } from './cloudevents-http.js';
import { invalidRequest } from './http/errors.js';
import { validateBody } from './validation.js';
import { usernameOf } from './usernames.js';
import type { Schemas } from './openapi-types.js';

export const EMPLOYEE_CREATED = 'fr.cofrap.hr.employee.created';
export const EMPLOYEE_DEPARTED = 'fr.cofrap.hr.employee.departed';
export const EMPLOYEE_REHIRED = 'fr.cofrap.hr.employee.rehired';
export const RESET_REQUESTED = 'fr.cofrap.it.credentials.reset-requested';
export const ACCOUNT_INVITED = 'fr.cofrap.identity.account.invited';
export const ACCOUNT_CONFLICT = 'fr.cofrap.identity.account.conflict';
export const ACCOUNT_RESET = 'fr.cofrap.identity.account.reset';
/** The source of the events we emit. */
export const IDENTITY_SOURCE = '/cofrap/identity/employee-events';

/** The longest `id` and `source` accepted, in characters. */
export const MAX_ATTRIBUTE_LENGTH = 256;

const HANDLED_TYPES = [EMPLOYEE_CREATED, EMPLOYEE_DEPARTED, EMPLOYEE_REHIRED, RESET_REQUESTED] as const;
export type EmployeeEventType = (typeof HANDLED_TYPES)[number];

interface EventKeyFields {
  source: string;
  id: string;
  username: string;
}

/** An HR event: who the employee is. */
export interface HrEvent extends EventKeyFields {
  type: typeof EMPLOYEE_CREATED | typeof EMPLOYEE_DEPARTED | typeof EMPLOYEE_REHIRED;
  email?: string;
  displayName?: string;
}

/** The IT helpdesk's request to reset an employee's credentials. */
export interface ResetRequestEvent extends EventKeyFields {
  type: typeof RESET_REQUESTED;
  requestedBy: string;
  reason?: string;
}

export type EmployeeEvent = HrEvent | ResetRequestEvent;

const isHandled = (type: string): type is EmployeeEventType => (HANDLED_TYPES as readonly string[]).includes(type);

/** Reads a binary- or structured-mode CloudEvent 1.0 from an HTTP request. */
export function parseEmployeeEvent(headers: IncomingHttpHeaders, body: Buffer): EmployeeEvent {
  let event: CloudEvent<unknown>;
  try {
    const parsed = eventFromMessage(headers, body.toString('utf8'));
    if (Array.isArray(parsed))
      throw invalidRequest('Batched CloudEvents are not accepted; send one event per request.');
    event = parsed as CloudEvent<unknown>;
    // toEvent reads leniently; the attributes the spec requires are checked here.
    event.validate();
  } catch (error) {
    if (error instanceof HeaderEncodingError) throw invalidRequest(error.message);
    if (error instanceof SyntaxError) throw invalidRequest('The event data is not valid JSON.');
    if (error instanceof Error && error.name === 'HttpError') throw error;
    throw invalidRequest(
      'The request is not a valid CloudEvent (binary or structured mode, with specversion, id, source and type).',
    );
  }
  if (event.specversion !== '1.0')
    throw invalidRequest(`CloudEvents specversion ${event.specversion} is not supported; send 1.0.`);
  // (source, id) is the key of a processed event and is logged: bounded, as §7 requires.
  if ([...event.id].length > MAX_ATTRIBUTE_LENGTH)
    throw invalidRequest(`The event id is longer than ${MAX_ATTRIBUTE_LENGTH} characters.`);
  if ([...event.source].length > MAX_ATTRIBUTE_LENGTH)
    throw invalidRequest(`The event source is longer than ${MAX_ATTRIBUTE_LENGTH} characters.`);
  const type = event.type;
  if (!isHandled(type))
    throw invalidRequest(`Event type "${type}" is not handled; expected one of ${HANDLED_TYPES.join(', ')}.`);
  const data = event.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data) || Buffer.isBuffer(data)) {
    throw invalidRequest('The event data must be a JSON object with a "username".');
  }
  const key = { source: event.source, id: event.id };
  if (type === RESET_REQUESTED) {
    const fields = validateBody('ResetRequestedData', data, 'Event data field');
    const requestedBy = fields.requested_by.trim();
    if (requestedBy === '')
      throw invalidRequest('Event data field "requested_by" must name the person who asked for the reset.');
    const reason = fields.reason?.trim() || undefined;
    return {
      type,
      ...key,
      username: usernameOf(fields.username, 'Event data field'),
      requestedBy,
      ...(reason === undefined ? {} : { reason }),
    };
  }
  const fields = validateBody('EmployeeEventData', data, 'Event data field');
  const email = fields.email?.trim() || undefined;
  const displayName = fields.display_name?.trim() || undefined;
  return {
    type,
    ...key,
    username: usernameOf(fields.username, 'Event data field'),
    ...(email === undefined ? {} : { email }),
    ...(displayName === undefined ? {} : { displayName }),
  };
}

export type ReplyMessage = BinaryMessage;

/**
 * A reply event in binary mode, for the broker to pass on (to the mailer, or to IT). Its
 * `ce-` headers are percent-encoded here; the caller builds it inside the transaction, so
 * that a failure here rolls the change back instead of answering 500 after a commit.
 */
type ReplyData =
  Schemas['AccountInvitedEventData'] | Schemas['AccountConflictEventData'] | Schemas['AccountResetEventData'];

function reply(type: string, username: string, data: ReplyData): ReplyMessage {
  const event = new CloudEvent({
    specversion: '1.0',
    type,
    source: IDENTITY_SOURCE,
    subject: username,
    datacontenttype: 'application/json',
    data,
  });
  return binaryMessage(event);
}

const withEmail = (email: string | undefined): { email?: string } => (email === undefined ? {} : { email });

/** account.invited: the invitation token for the mailer. */
export function invitationReply(
  username: string,
  invitationToken: string,
  expiresAt: Date,
  email?: string,
): ReplyMessage {
  return reply(ACCOUNT_INVITED, username, {
    username,
    ...withEmail(email),
    invitation_token: invitationToken,
    invitation_expires_at: expiresAt.toISOString(),
  });
}

/**
 * account.conflict: HR's employee arrived after someone else took the username (or one
 * that looks like it, `similarTo`); nothing changed, IT must look.
 */
export function conflictReply(
  username: string,
  provenance: Schemas['AccountConflictEventData']['provenance'],
  similarTo?: string,
): ReplyMessage {
  return reply(ACCOUNT_CONFLICT, username, {
    username,
    provenance,
    ...(similarTo === undefined ? {} : { similar_to: similarTo }),
  });
}

/** account.reset: the helpdesk's reset token for the mailer. */
export function resetReply(username: string, resetToken: string, expiresAt: Date, email?: string): ReplyMessage {
  return reply(ACCOUNT_RESET, username, {
    username,
    ...withEmail(email),
    reset_token: resetToken,
    reset_expires_at: expiresAt.toISOString(),
  });
}
