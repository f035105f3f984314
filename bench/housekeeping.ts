// --only=housekeeping: the housekeeping tick (contract §12) with 10 000 accounts and 1 000
// identity events pending (issue 16). The accounts are written in bulk on the bench's
// scratch database, their credentials issued evenly over the last 200 days (so about one in
// seven falls within 30 days of its expiry and is due a reminder, and one in eleven has
// expired), and 1 000 audit records with their outbox events are left undelivered. Our
// development server is started for this phase with K_SINK pointing at a sink on 127.0.0.1
// that answers 202 to everything, and with a stand-in OIDC issuer it trusts (the tick
// verifies the PingSource's token as on Knative); ticks are then sent to its real
// endpoint, POST /housekeeping with a signed token, one after the other, until a tick
// finds nothing left to publish or deliver. Each tick's duration is the time to its answer.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { loadBcryptEngine } from '../lib/crypto/bcrypt-engine.js';
import { skeletonOf } from '../lib/usernames.js';
import { fmt } from './phase.js';
import type { PhaseReport } from './phase.js';

export const HOUSEKEEPING_ACCOUNTS = 10_000;
export const HOUSEKEEPING_PENDING = 1_000;
/** The PingSource fires every minute: a tick must end well before the next. */
const TICK_PERIOD_MS = 60_000;
const MAX_TICKS = 20;

export interface HousekeepingContext {
  databaseUrl: string;
  /** Starts our development server on the scratch database with these settings added. */
  start(extra: Record<string, string>): Promise<{ base: string; close(): Promise<void> }>;
  say: (line: string) => void;
}

interface Tick {
  ms: number;
  status: number;
  delivered: number;
  failed: number;
  reminders: number;
  pruned: Record<string, number>;
  pendingAfter: number;
}

/** A CloudEvents sink that accepts everything (202) and counts what it was sent, by ce-id. */
async function openSink(): Promise<{
  url: string;
  received: () => { total: number; distinct: number };
  close(): Promise<void>;
}> {
  const ids = new Map<string, number>();
  let total = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      total++;
      const id = String(req.headers['ce-id'] ?? '');
      ids.set(id, (ids.get(id) ?? 0) + 1);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    received: () => ({ total, distinct: ids.size }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The accounts and the pending events, in two bulk statements; returns the reminders due now. */
async function seed(client: pg.Client): Promise<{ due: number; expired: number }> {
  const usernames = Array.from(
    { length: HOUSEKEEPING_ACCOUNTS },
    (_, i) => `bench-hk-${String(i + 1).padStart(5, '0')}`,
  );
  // Never verified: any bcrypt hash will do, as the seed side's placeholder rows.
  const placeholder = loadBcryptEngine('auto').hash('housekeeping-placeholder', 4);
  await client.query(
    `INSERT INTO users (username, username_skeleton, status, provenance, password_hash, created_at, activated_at, expired, email)
     SELECT n.username, n.skeleton, 'active', 'hr', $3,
            now() - interval '200 days' * g.i / $4, now() - interval '200 days' * g.i / $4, FALSE,
            CASE WHEN g.i % 4 <> 0 THEN n.username || '@cofrap.example' END
       FROM generate_series(1, $4::int) AS g(i)
       JOIN unnest($1::text[], $2::text[]) WITH ORDINALITY AS n(username, skeleton, i) ON n.i = g.i`,
    [usernames, usernames.map(skeletonOf), placeholder, HOUSEKEEPING_ACCOUNTS],
  );
  // Undelivered identity events of those accounts, each with its audit record (the outbox's key).
  await client.query(
    `WITH record AS (
       INSERT INTO audit_log (type, username, actor, request_id, details)
       SELECT 'account.activated', 'bench-hk-' || lpad(g::text, 5, '0'), 'self', 'bench-' || g, '{"second_factor": "totp"}'::jsonb
         FROM generate_series(1, $1::int) AS g
       RETURNING id, type, username, details)
     INSERT INTO outbox (id, type, source, subject, data)
     SELECT id, 'fr.cofrap.identity.' || type, '/cofrap/identity/authenticate', username, details || jsonb_build_object('username', username)
       FROM record`,
    [HOUSEKEEPING_PENDING],
  );
  const [row] = (
    await client.query<{ due: number; expired: number }>(
      `SELECT count(*) FILTER (WHERE created_at + interval '6 months' > now() AND created_at + interval '6 months' - interval '30 days' <= now())::int AS due,
              count(*) FILTER (WHERE created_at + interval '6 months' <= now())::int AS expired
         FROM users WHERE username LIKE 'bench-hk-%'`,
    )
  ).rows;
  return { due: row?.due ?? 0, expired: row?.expired ?? 0 };
}

const pendingEvents = async (client: pg.Client): Promise<number> =>
  (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE delivered_at IS NULL')).rows[0]?.n ??
  -1;

export async function housekeepingPhase(context: HousekeepingContext): Promise<PhaseReport> {
  const { say } = context;
  // A test helper (jose key pair, JWKS over HTTP): loaded only when this phase runs.
  const { TestIssuer } = await import('../test/helpers/oidc.js');
  const issuer = await TestIssuer.start({
    audience: 'bench/housekeeping',
    subject: 'system:serviceaccount:knative-eventing:pingsource-mt-adapter',
  });
  const sink = await openSink();
  const client = new pg.Client({ connectionString: context.databaseUrl });
  await client.connect();
  let server: { base: string; close(): Promise<void> } | undefined;
  const ticks: Tick[] = [];
  try {
    const seeding = performance.now();
    const { due, expired } = await seed(client);
    const pendingBefore = await pendingEvents(client);
    say(
      `housekeeping: ${HOUSEKEEPING_ACCOUNTS} accounts (${due} due a reminder, ${expired} expired) and ${pendingBefore} pending events written in ${fmt(performance.now() - seeding)} ms`,
    );

    server = await context.start({ K_SINK: sink.url, ...issuer.env() });
    for (let n = 1; n <= MAX_TICKS; n++) {
      const token = await issuer.token();
      const started = performance.now();
      const response = await fetch(`${server.base}/housekeeping`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ specversion: '1.0' }),
      });
      const text = await response.text();
      const ms = performance.now() - started;
      if (response.status !== 200)
        throw new Error(`housekeeping tick ${n} answered ${response.status}: ${text.slice(0, 200)}`);
      const body = JSON.parse(text) as {
        delivered: number;
        failed: number;
        reminders: number;
        pruned: Record<string, number>;
      };
      const tick = {
        ms,
        status: response.status,
        delivered: body.delivered,
        failed: body.failed,
        reminders: body.reminders,
        pruned: body.pruned,
        pendingAfter: await pendingEvents(client),
      };
      ticks.push(tick);
      say(
        `housekeeping tick ${n}: ${fmt(ms)} ms, delivered ${tick.delivered}, failed ${tick.failed}, reminders ${tick.reminders}, pending after ${tick.pendingAfter}`,
      );
      if (tick.reminders === 0 && tick.delivered === 0 && tick.pendingAfter === 0) break;
    }
    const received = sink.received();
    const drained = ticks.at(-1)?.pendingAfter === 0;
    const delivered = ticks.reduce((sum, tick) => sum + tick.delivered, 0);
    const reminders = ticks.reduce((sum, tick) => sum + tick.reminders, 0);
    const longest = Math.max(...ticks.map((tick) => tick.ms));
    const lines = [
      `housekeeping (POST /housekeeping of the dev server, OIDC-verified; K_SINK a local sink answering 202): ${HOUSEKEEPING_ACCOUNTS} accounts, ${due} due a reminder, ${pendingBefore} events pending`,
      ...ticks.map(
        (tick, i) =>
          `  tick ${i + 1}: ${fmt(tick.ms)} ms, delivered ${tick.delivered}, failed ${tick.failed}, reminders ${tick.reminders}, pruned ${Object.values(tick.pruned).reduce((a, b) => a + b, 0)}, pending after ${tick.pendingAfter}`,
      ),
      `  sink received ${received.total} events (${received.distinct} distinct ids); ${drained ? 'outbox drained' : 'OUTBOX NOT DRAINED'} after ${ticks.length} ticks`,
    ];
    return {
      name: 'housekeeping',
      lines,
      targets: () => [
        {
          target: `housekeeping, ${HOUSEKEEPING_ACCOUNTS} accounts + ${HOUSEKEEPING_PENDING} pending events: drained, each event once, every tick < 60 s (the PingSource's period)`,
          measured: `ticks ${ticks.map((tick) => `${fmt(tick.ms / 1000, 1)} s`).join(', ')}; ${delivered} delivered (${received.distinct} distinct at the sink), ${reminders} reminders`,
          met:
            drained &&
            received.total === received.distinct &&
            received.distinct === delivered &&
            longest < TICK_PERIOD_MS,
        },
      ],
      figures: { accounts: HOUSEKEEPING_ACCOUNTS, dueReminders: due, expired, pendingBefore, ticks, sink: received },
    };
  } finally {
    await server?.close();
    await client.end();
    await sink.close();
    await issuer.stop();
  }
}
