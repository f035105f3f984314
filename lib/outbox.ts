// Delivery of the identity events the outbox holds (contract §11): each is sent to K_SINK
// as a binary-mode CloudEvent (id = the audit record's id, subject = the username) and
// marked delivered on a 2xx; otherwise it waits 2^attempts seconds (at most an hour) and
// is tried again by the next nudge or housekeeping tick. Delivery is at least once:
// consumers deduplicate by id. Rows are claimed with SKIP LOCKED, so deliverers running
// at once (replicas, two ticks) never send one event at the same moment.
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
}

async function send(sink: string, event: PendingEvent, timeoutMs: number): Promise<boolean> {
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
  const response = await fetch(sink, { method: 'POST', headers: message.headers, body: message.body, signal: AbortSignal.timeout(timeoutMs) });
  await response.arrayBuffer().catch(() => undefined);
  return response.status >= 200 && response.status < 300;
}

/** Sends the due pending events (or `ids` only) to `sink`; what could not be sent waits its backoff. */
export async function deliverPending(db: Database, sink: string, log: Logger, options: DeliveryOptions = {}): Promise<DeliveryReport> {
  const report: DeliveryReport = { delivered: 0, failed: 0 };
  const timeoutMs = options.timeoutMs ?? 2000;
  await db.transaction(async (tx) => {
    for (const event of await claimPending(tx, options.limit ?? 100, options.ids)) {
      let ok = false;
      try {
        ok = await send(sink, event, timeoutMs);
      } catch (error) {
        log.warn('identity_event_not_sent', { event_id: event.id, type: event.type, attempts: event.attempts + 1, ...describeError(error) });
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
  ) {}

  nudge(ids: string[]): void {
    if (this.sink === undefined || ids.length === 0) return;
    const sending = deliverPending(this.db, this.sink, this.log, { ids, limit: ids.length })
      .catch((error: unknown) => this.log.warn('identity_events_deferred', describeError(error)))
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}
