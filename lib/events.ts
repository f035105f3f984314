// HR's CloudEvents in, our reply event out, with the cloudevents SDK; the `ce-` headers
// are percent-encoded and decoded in cloudevents-http.ts, which the SDK does not do.
// Anything the broker should not retry (not a CloudEvent 1.0, a header that is not
// valid percent-encoding, an unknown type, bad data) is a 400.
import { CloudEvent } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';
import { HeaderEncodingError, binaryMessage, eventFromMessage } from './cloudevents-http.js';
import type { BinaryMessage } from './cloudevents-http.js';
import { invalidRequest } from './http/errors.js';
import { usernameOf, validateBody } from './validation.js';
import type { EmployeeEventData } from './validation.js';

export const EMPLOYEE_CREATED = 'fr.cofrap.hr.employee.created';
export const EMPLOYEE_DEPARTED = 'fr.cofrap.hr.employee.departed';
export const ACCOUNT_INVITED = 'fr.cofrap.identity.account.invited';
/** The source of the events we emit. */
export const IDENTITY_SOURCE = '/cofrap/identity/employee-events';

/** The longest `id` and `source` accepted, in characters. */
export const MAX_ATTRIBUTE_LENGTH = 256;

export type EmployeeEventType = typeof EMPLOYEE_CREATED | typeof EMPLOYEE_DEPARTED;

export interface EmployeeEvent {
  type: EmployeeEventType;
  source: string;
  id: string;
  username: string;
  email?: string;
  displayName?: string;
}

/** Reads a binary- or structured-mode CloudEvent 1.0 from an HTTP request. */
export function parseEmployeeEvent(headers: IncomingHttpHeaders, body: Buffer): EmployeeEvent {
  let event: CloudEvent<unknown>;
  try {
    const parsed = eventFromMessage(headers, body.toString('utf8'));
    if (Array.isArray(parsed)) throw invalidRequest('Batched CloudEvents are not accepted; send one event per request.');
    event = parsed as CloudEvent<unknown>;
    // toEvent reads leniently; the attributes the spec requires are checked here.
    event.validate();
  } catch (error) {
    if (error instanceof HeaderEncodingError) throw invalidRequest(error.message);
    if (error instanceof SyntaxError) throw invalidRequest('The event data is not valid JSON.');
    if (error instanceof Error && error.name === 'HttpError') throw error;
    throw invalidRequest('The request is not a valid CloudEvent (binary or structured mode, with specversion, id, source and type).');
  }
  if (event.specversion !== '1.0') throw invalidRequest(`CloudEvents specversion ${event.specversion} is not supported; send 1.0.`);
  // (source, id) is the key of a processed event and is logged: bounded, as §7 requires.
  if ([...event.id].length > MAX_ATTRIBUTE_LENGTH) throw invalidRequest(`The event id is longer than ${MAX_ATTRIBUTE_LENGTH} characters.`);
  if ([...event.source].length > MAX_ATTRIBUTE_LENGTH) throw invalidRequest(`The event source is longer than ${MAX_ATTRIBUTE_LENGTH} characters.`);
  if (event.type !== EMPLOYEE_CREATED && event.type !== EMPLOYEE_DEPARTED) {
    throw invalidRequest(`Event type "${event.type}" is not handled; expected ${EMPLOYEE_CREATED} or ${EMPLOYEE_DEPARTED}.`);
  }
  const data = event.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data) || Buffer.isBuffer(data)) {
    throw invalidRequest('The event data must be a JSON object with a "username".');
  }
  const fields = validateBody<EmployeeEventData>('EmployeeEventData', data, 'Event data field');
  const username = usernameOf(fields.username, 'Event data field');
  const email = fields.email?.trim() || undefined;
  const displayName = fields.display_name?.trim() || undefined;
  return {
    type: event.type,
    source: event.source,
    id: event.id,
    username,
    ...(email === undefined ? {} : { email }),
    ...(displayName === undefined ? {} : { displayName }),
  };
}

export type InvitationReply = BinaryMessage;

/**
 * The account.invited event, in binary mode, for the broker to pass to the mailer. Its
 * `ce-` headers are percent-encoded here; the caller builds it inside the transaction, so
 * that a failure here rolls the invitation back instead of answering 500 after a commit.
 */
export function invitationReply(username: string, invitationToken: string, expiresAt: Date): InvitationReply {
  const reply = new CloudEvent({
    specversion: '1.0',
    type: ACCOUNT_INVITED,
    source: IDENTITY_SOURCE,
    subject: username,
    datacontenttype: 'application/json',
    data: { username, invitation_token: invitationToken, invitation_expires_at: expiresAt.toISOString() },
  });
  return binaryMessage(reply);
}
