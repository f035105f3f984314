// Real CloudEvents, built with the SDK, sent over HTTP the way a Knative broker delivers them,
// with the `ce-` headers percent-encoded and decoded as the HTTP binding requires (the
// SDK does neither; lib/cloudevents-http.ts does both), and the broker's OIDC token.
import { CloudEvent, HTTP } from 'cloudevents';
import { binaryMessage, eventFromMessage } from '../../lib/cloudevents-http.js';
import { request } from './http.js';
import type { Answer } from './http.js';
import { BROKER } from './oidc.js';

export const HR_SOURCE = '/hr/workday';

export interface EventOptions {
  id?: string;
  mode?: 'binary' | 'structured';
  source?: string;
  /**
   * The bearer token the broker attaches (Knative Eventing's OIDC sender authentication):
   * by default the run's valid BROKER token, which a server on PostgreSQL trusts and one in
   * embedded mode ignores; a string sends that token, null sends no Authorization header.
   */
  token?: string | null;
  /** More headers, over the event's own. */
  headers?: Record<string, string>;
}

export async function sendEmployeeEvent(
  url: string,
  type: string,
  data: unknown,
  options: EventOptions = {},
): Promise<Answer> {
  const event = new CloudEvent({
    type,
    source: options.source ?? HR_SOURCE,
    ...(options.id === undefined ? {} : { id: options.id }),
    datacontenttype: 'application/json',
    data,
  });
  const token = options.token === undefined ? await BROKER.brokerToken() : options.token;
  const extra = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...options.headers };
  if (options.mode === 'structured') {
    const message = HTTP.structured(event);
    return request(url, {
      method: 'POST',
      headers: { ...(message.headers as Record<string, string>), ...extra },
      body: String(message.body),
    });
  }
  const message = binaryMessage(event);
  return request(url, { method: 'POST', headers: { ...message.headers, ...extra }, body: message.body });
}

/**
 * The reply as a CloudEvent, read back from the answer's headers and body as a receiver
 * that follows the binding does: `ce-` headers percent-decoded, then the SDK's toEvent.
 */
export function replyEvent(answer: Answer): CloudEvent<Record<string, unknown>> {
  const headers: Record<string, string> = {};
  answer.headers.forEach((value, name) => (headers[name] = value));
  return eventFromMessage(headers, answer.text) as CloudEvent<Record<string, unknown>>;
}
