// --only=audit-overhead: what the audit trail and the outbox add to one successful sign-in
// (issue 16: "p50 overhead over today's <= 5 ms"). On the bench's scratch database, through
// the service's own modules (lib/db/sign-in.ts, lib/sign-in-audit.ts) and its pg pool, the
// sign-in's transaction on the locked row is run in three variants, interleaved so that
// the machine's drift touches each alike:
//   without   — lock the row, record the step, offer no renewal, commit (the sign-in before the trail);
//   trail     — the same and its record, signin.succeeded (what a sign-in writes: the trail only);
//   published — the same and account.activated (a record and its outbox event: an activation,
//               a renewal, a recovery code; the heaviest a sign-in writes).
// Reported: the p50 of each whole transaction (BEGIN to COMMIT), the p50 of the record's own
// call inside it, and the differences. The target is judged on the larger of the record's
// p50 and the difference of the transactions' p50s, for the published variant.
import { Database, createPool } from '../lib/db/database.js';
import * as signin from '../lib/db/sign-in.js';
import { recordOutcome } from '../lib/sign-in-audit.js';
import { createLogger } from '../lib/log.js';
import { skeletonOf } from '../lib/usernames.js';
import type { AuditType } from '../lib/audit.js';
import { summarise } from './load.js';
import { fmt } from './phase.js';
import type { PhaseReport } from './phase.js';

const USERNAME = 'bench-audit-overhead';
const MAX_AGE = '6 months';
const TARGET_MS = 5;

export interface AuditOverheadContext {
  databaseUrl: string;
  samples: number;
  say(line: string): void;
}

type Variant = 'without' | 'trail' | 'published';
const RECORDED: Record<Exclude<Variant, 'without'>, AuditType> = {
  trail: 'signin.succeeded',
  published: 'account.activated',
};

export async function auditOverheadPhase(context: AuditOverheadContext): Promise<PhaseReport> {
  const quiet = createLogger({}, () => undefined);
  // One connection: each transaction pays no pool wait, only its own statements.
  const db = new Database(createPool({ connectionString: context.databaseUrl, max: 1 }, quiet));
  const audit = {
    actor: 'self',
    origin: 'authenticate',
    requestId: 'bench-audit-overhead',
    clientAddress: '127.0.0.1',
  };
  const checked = {
    passwordHash: '$2b$12$bench.audit.overhead.placeholder.hash.never.verified',
    sealedSecret: 'bench-sealed-placeholder',
  };
  const transactions: Record<Variant, number[]> = { without: [], trail: [], published: [] };
  const records: Record<Exclude<Variant, 'without'>, number[]> = { trail: [], published: [] };
  let step = 1;
  try {
    await db.query(
      `INSERT INTO users (username, username_skeleton, status, provenance, password_hash, mfa_secret, created_at, activated_at, last_totp_step)
       VALUES ($1, $4, 'active', 'self', $2, $3, now(), now(), 0)`,
      [USERNAME, checked.passwordHash, checked.sealedSecret, skeletonOf(USERNAME)],
    );
    const once = async (variant: Variant): Promise<void> => {
      const factor = { kind: 'totp' as const, set: 'current' as const, step: step++ };
      let recordMs = 0;
      const started = performance.now();
      await db.transaction(async (tx) => {
        const state = await signin.lockForLogin(tx, USERNAME, checked, factor, MAX_AGE);
        if (state === undefined) throw new Error('the bench account was not usable');
        await signin.signIn(tx, USERNAME, factor.step, MAX_AGE);
        await signin.offerRenewal(tx, USERNAME, { tokenHash: 'none', ttl: '15 minutes' }, MAX_AGE, '30 days');
        if (variant !== 'without') {
          const recording = performance.now();
          await recordOutcome(tx, audit, USERNAME, RECORDED[variant], { second_factor: 'totp' });
          recordMs = performance.now() - recording;
        }
      });
      transactions[variant].push(performance.now() - started);
      if (variant !== 'without') records[variant].push(recordMs);
    };
    const order: Variant[] = ['without', 'trail', 'published'];
    for (let i = 0; i < 20; i++) for (const variant of order) await once(variant); // warm-up: plans, JIT
    for (const variant of order) transactions[variant].length = 0;
    records.trail.length = 0;
    records.published.length = 0;
    for (let i = 0; i < context.samples; i++)
      for (const variant of i % 2 === 0 ? order : [...order].reverse()) await once(variant);
  } finally {
    // The records of the bench account go (their events with them): no later phase delivers them.
    await db.query('DELETE FROM audit_log WHERE username = $1', [USERNAME]).catch(() => undefined);
    await db.query('DELETE FROM users WHERE username = $1', [USERNAME]).catch(() => undefined);
    await db.close();
  }

  const p50 = (values: number[]): number => summarise(values)?.p50 ?? Number.NaN;
  const base = p50(transactions.without);
  const figures = {
    samples: context.samples,
    transactionMs: {
      without: summarise(transactions.without),
      trail: summarise(transactions.trail),
      published: summarise(transactions.published),
    },
    recordMs: { trail: summarise(records.trail), published: summarise(records.published) },
  };
  const overhead = (variant: Exclude<Variant, 'without'>): number =>
    Math.max(p50(records[variant]), p50(transactions[variant]) - base);
  const describe = (variant: Exclude<Variant, 'without'>): string =>
    `${fmt(p50(transactions[variant]), 2)} ms (+${fmt(p50(transactions[variant]) - base, 2)}; the record's call ${fmt(p50(records[variant]), 2)} ms)`;
  context.say(
    `audit overhead: transaction p50 without ${fmt(base, 2)} ms, with the trail record ${describe('trail')}, with record and event ${describe('published')}`,
  );
  return {
    name: 'audit-overhead',
    lines: [
      `audit trail + outbox per sign-in (the sign-in's transaction on the scratch database, ${context.samples} of each, interleaved): p50 without ${fmt(base, 2)} ms; ` +
        `+ signin.succeeded ${describe('trail')}; + account.activated with its outbox event ${describe('published')}`,
    ],
    targets: () => [
      {
        target: `audit record + outbox event of one sign-in: p50 overhead <= ${TARGET_MS} ms`,
        measured: `${fmt(overhead('published'), 2)} ms (record and event), ${fmt(overhead('trail'), 2)} ms (record only)`,
        met: overhead('published') <= TARGET_MS && overhead('trail') <= TARGET_MS,
      },
    ],
    figures,
  };
}
