// One housekeeping tick (contract §12), as the PingSource fires it every minute: deliver
// the identity events still pending, publish the expiry reminders that are due, prune
// what has lapsed (throttle rows of unknown usernames included). Bounded (a batch limit per step, a time budget for delivery) and safe
// to run twice at once: rows are claimed with SKIP LOCKED or ON CONFLICT, deletes are
// idempotent.
import { recordAudit } from './db/audit.js';
import { claimDueReminders, pruneLapsed } from './db/housekeeping.js';
import type { Pruned } from './db/housekeeping.js';
import { deliverPending } from './outbox.js';
import { prune as pruneThrottle } from './db/throttle.js';
import type { Runtime } from './runtime.js';
import type { Logger } from './log.js';

export interface TickReport {
  delivered: number;
  failed: number;
  reminders: number;
  pruned: Pruned & { throttle: number };
}

const BATCH = 1000;
const DELIVERY_BUDGET_MS = 20_000;

export async function housekeepingTick(runtime: Runtime, log: Logger, requestId?: string): Promise<TickReport> {
  const { db, config } = runtime;
  const report: TickReport = {
    delivered: 0,
    failed: 0,
    reminders: 0,
    pruned: { processedEvents: 0, registrations: 0, audit: 0, reminders: 0, throttle: 0 },
  };

  // Reminders first: their events then leave in this same tick.
  const context = { actor: 'housekeeping', origin: 'housekeeping', ...(requestId === undefined ? {} : { requestId }) };
  report.reminders = await db.transaction(async (tx) => {
    const due = await claimDueReminders(tx, config.expiryReminders, config.credentialMaxAge, BATCH);
    for (const reminder of due) {
      await recordAudit(tx, context, {
        type: 'credentials.expiring',
        username: reminder.username,
        details: {
          expires_at: reminder.expiresAt.toISOString(),
          days_left: reminder.daysLeft,
          threshold: reminder.threshold,
          ...(reminder.email === null ? {} : { email: reminder.email }),
        },
      });
    }
    return due.length;
  });

  if (config.sink !== undefined) {
    const started = Date.now();
    for (;;) {
      const batch = await deliverPending(db, config.sink, log, { limit: 100, tokenFile: config.sinkTokenFile });
      report.delivered += batch.delivered;
      report.failed += batch.failed;
      if (batch.delivered + batch.failed < 100 || Date.now() - started > DELIVERY_BUDGET_MS) break;
    }
  }

  const throttle = await pruneThrottle(db);
  report.pruned = {
    ...(await pruneLapsed(db, config.auditRetention, BATCH)),
    throttle: throttle.pairs + throttle.usernames + throttle.addresses,
  };
  log.info('housekeeping_tick', {
    delivered: report.delivered,
    failed: report.failed,
    reminders: report.reminders,
    pruned: report.pruned,
  });
  return report;
}
