// Delivery of the identity events the outbox holds (contract §11): each is sent to K_SINK
// as a binary-mode CloudEvent (id = the audit record's id, subject = the username) and
// marked delivered on a 2xx; otherwise it waits 2^attempts seconds (at most an hour) and
// is tried again by the next nudge or housekeeping tick. Delivery is at least once:
// consumers deduplicate by id. Rows are claimed with SKIP LOCKED, so deliverers running
// at once (replicas, two ticks) never send one event at the same moment.
// On Knative the sink is the broker, which admits only senders with a token (Eventing's
// sender identity): the SinkBinding that sets K_SINK also mounts a token of its own
// ServiceAccount for the broker's audience (/oidc/token, knative/base/identity-events.yaml),
// renewed in place before it expires; it is read at each send (`tokenFile`) and sent as
// `Authorization: Bearer`. Without that file (sender identity off, development) no header.
import { readFile } from 'node:fs/promises';
import { CloudEvent } from 'cloudevents';
import { binaryMessage } from './cloudevents-http.js';
import { claimPending, markDelivered, markFailed } from './db/audit.js';
import type { PendingEvent } from './db/audit.js';
import type { Database } from './db/database.js';
import { describeError } from './log.js';
import type { Logger } from './log.js';

export interface DeliveryReport {
  delivered: number;
  failed: number;
}

export interface DeliveryOptions {
  /** At most this many events per call. */
  limit?: number;
  /** Only these ids (the events a request just committed). */
  ids?: string[];
  /** Bound of one HTTP attempt. */
  timeoutMs?: number;
  /** The file of the sender's OIDC token for the sink (SINK_OIDC_TOKEN_FILE), read at each send. */
  tokenFile?: string | undefined;
}

/**
 * The sender's token in `file`, as Knative Eventing's SinkBinding keeps it (the whole file,
 * renewed in place); undefined without a file name or while the file does not exist. A
 * file that holds no token is an error, which leaves the event for a later attempt.
 */
export async function sinkToken(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const token = text.trim();
  // Never the content in the message: it may be a token gone wrong.
  if (!/^[!-~]+$/.test(token)) throw new Error(`the sink token file ${file} does not hold a token`);
  return token;
}

/** What the sink answered, and whether the request carried a token. */
export interface SendResult {
  status: number;
  withToken: boolean;
}

/** One event to the sink, in binary mode, with the sender's token when there is one. */
export async function sendEvent(
  sink: string,
  event: PendingEvent,
  timeoutMs: number,
  tokenFile?: string,
): Promise<SendResult> {
  const message = binaryMessage(
    new CloudEvent({
      specversion: '1.0',
      id: event.id,
      type: event.type,
      source: event.source,
      subject: event.subject,
      time: event.createdAt.toISOString(),
      datacontenttype: 'application/json',
      data: event.data,
    }),
  );
  const token = await sinkToken(tokenFile);
  const headers = token === undefined ? message.headers : { ...message.headers, authorization: `Bearer ${token}` };
  const response = await fetch(sink, {
    method: 'POST',
    headers,
    body: message.body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.arrayBuffer().catch(() => undefined);
  return { status: response.status, withToken: token !== undefined };
}

/** Sends the due pending events (or `ids` only) to `sink`; what could not be sent waits its backoff. */
export async function deliverPending(
  db: Database,
  sink: string,
  log: Logger,
  options: DeliveryOptions = {},
): Promise<DeliveryReport> {
  const report: DeliveryReport = { delivered: 0, failed: 0 };
  const timeoutMs = options.timeoutMs ?? 2000;
  await db.transaction(async (tx) => {
    for (const event of await claimPending(tx, options.limit ?? 100, options.ids)) {
      let ok = false;
      try {
        const result = await sendEvent(sink, event, timeoutMs, options.tokenFile);
        ok = result.status >= 200 && result.status < 300;
        // 401: no valid token (the broker's EventPolicies apply); 403: a policy refused it.
        if (!ok)
          log.warn('identity_event_refused', {
            event_id: event.id,
            type: event.type,
            attempts: event.attempts + 1,
            status: result.status,
            with_token: result.withToken,
          });
      } catch (error) {
        log.warn('identity_event_not_sent', {
          event_id: event.id,
          type: event.type,
          attempts: event.attempts + 1,
          ...describeError(error),
        });
      }
      if (ok) {
        await markDelivered(tx, event.id);
        report.delivered++;
      } else {
        await markFailed(tx, event.id);
        report.failed++;
      }
    }
  });
  if (report.delivered + report.failed > 0) log.info('identity_events_delivered', { ...report });
  return report;
}

/**
 * After a request's commit: its events are sent in the background, so no answer waits on
 * the broker; a failure only leaves them for the next attempt. `settled()` lets a
 * shutting-down process finish what it started.
 */
export class Publisher {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly db: Database,
    private readonly sink: string | undefined,
    private readonly log: Logger,
    private readonly tokenFile?: string,
  ) {}

  nudge(ids: string[]): void {
    if (this.sink === undefined || ids.length === 0) return;
    const sending = deliverPending(this.db, this.sink, this.log, { ids, limit: ids.length, tokenFile: this.tokenFile })
      .catch((error: unknown) => this.log.warn('identity_events_deferred', describeError(error)))
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}
