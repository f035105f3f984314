// Real CloudEvents, built with the SDK, sent over HTTP the way a Knative broker delivers them.
import { CloudEvent, HTTP } from 'cloudevents';
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
  const message = options.mode === 'structured' ? HTTP.structured(event) : HTTP.binary(event);
  return request(url, { method: 'POST', headers: message.headers as Record<string, string>, body: String(message.body) });
}

/** The reply as a CloudEvent, read back with the SDK from the answer's headers and body. */
export function replyEvent(answer: Answer): CloudEvent<Record<string, unknown>> {
  const headers: Record<string, string> = {};
  answer.headers.forEach((value, name) => (headers[name] = value));
  return HTTP.toEvent({ headers, body: answer.text }) as CloudEvent<Record<string, unknown>>;
}
