// HR's CloudEvents in, our reply event out, with the cloudevents SDK. Anything the broker
// should not retry (not a CloudEvent 1.0, an unknown type, bad data) is a 400.
import { CloudEvent, HTTP } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';
import { invalidRequest } from './http/errors.js';
import { validateBody } from './validation.js';
import { usernameOf } from './usernames.js';
import type { EmployeeEventData } from './validation.js';

export const EMPLOYEE_CREATED = 'fr.cofrap.hr.employee.created';
export const EMPLOYEE_DEPARTED = 'fr.cofrap.hr.employee.departed';
export const ACCOUNT_INVITED = 'fr.cofrap.identity.account.invited';
/** The source of the events we emit. */
export const IDENTITY_SOURCE = '/cofrap/identity/employee-events';

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
    const parsed = HTTP.toEvent<unknown>({ headers, body: body.toString('utf8') });
    if (Array.isArray(parsed)) throw invalidRequest('Batched CloudEvents are not accepted; send one event per request.');
    event = parsed as CloudEvent<unknown>;
    // toEvent reads leniently; the attributes the spec requires are checked here.
    event.validate();
  } catch (error) {
    if (error instanceof SyntaxError) throw invalidRequest('The event data is not valid JSON.');
    if (error instanceof Error && error.name === 'HttpError') throw error;
    throw invalidRequest('The request is not a valid CloudEvent (binary or structured mode, with specversion, id, source and type).');
  }
  if (event.specversion !== '1.0') throw invalidRequest(`CloudEvents specversion ${event.specversion} is not supported; send 1.0.`);
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

export interface InvitationReply {
  headers: Record<string, string>;
  body: string;
}

/** The account.invited event, in binary mode, for the broker to pass to the mailer. */
export function invitationReply(username: string, invitationToken: string, expiresAt: Date): InvitationReply {
  const reply = new CloudEvent({
    specversion: '1.0',
    type: ACCOUNT_INVITED,
    source: IDENTITY_SOURCE,
    subject: username,
    datacontenttype: 'application/json',
    data: { username, invitation_token: invitationToken, invitation_expires_at: expiresAt.toISOString() },
  });
  const message = HTTP.binary(reply);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) if (typeof value === 'string') headers[name] = value;
  return { headers, body: String(message.body) };
}
