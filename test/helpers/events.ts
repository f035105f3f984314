// Real CloudEvents, built with the SDK, sent over HTTP the way a Knative broker delivers them,
// with the `ce-` headers percent-encoded and decoded as the HTTP binding requires (the
// SDK does neither; lib/cloudevents-http.ts does both).
import { CloudEvent, HTTP } from 'cloudevents';
import { binaryMessage, eventFromMessage } from '../../lib/cloudevents-http.js';
import { request } from './http.js';
import type { Answer } from './http.js';

export const HR_SOURCE = '/hr/workday';

export interface EventOptions {
  id?: string;
  mode?: 'binary' | 'structured';
  source?: string;
}

export function sendEmployeeEvent(url: string, type: string, data: unknown, options: EventOptions = {}): Promise<Answer> {
  const event = new CloudEvent({
    type,
    source: options.source ?? HR_SOURCE,
    ...(options.id === undefined ? {} : { id: options.id }),
    datacontenttype: 'application/json',
    data,
  });
  if (options.mode === 'structured') {
    const message = HTTP.structured(event);
    return request(url, { method: 'POST', headers: message.headers as Record<string, string>, body: String(message.body) });
  }
  const message = binaryMessage(event);
  return request(url, { method: 'POST', headers: message.headers, body: message.body });
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
