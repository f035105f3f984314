// --only=recovery: the recovery-code sign-in's latency (issue 15), one client. The accounts
// are prepared as the authenticate runs' are: the journey's account (password read from its
// QR code, second factor enrolled, activated), copied row for row — recovery code digests
// included — under other usernames, so that each of the journey's ten codes can be used
// once on each copy. One client sends valid sign-ins with a recovery code instead of a TOTP
// code, each (copy, code) once, for the warm-up and the measured window of the other runs;
// every answer must be 200 with `authenticated`, the codes left and an enrollment token.
// The closed loop runs in this process: with one client and the server in its own process,
// the orchestrator has nothing else to do meanwhile.
import http from 'node:http';
import pg from 'pg';
import { skeletonOf } from '../lib/usernames.js';
import { post, summarise } from './load.js';
import type { LatencySummary } from './load.js';
import { fmt } from './phase.js';
import type { PhaseReport } from './phase.js';

export interface RecoveryContext {
  /** authenticate on our running server. */
  url: string;
  databaseUrl: string;
  /** The journey's account, activated, whose row is copied. */
  template: string;
  password: string;
  /** Its recovery codes, as generate-2fa answered them. */
  codes: string[];
  warmupS: number;
  durationS: number;
  say(line: string): void;
}

export async function recoveryPhase(context: RecoveryContext): Promise<PhaseReport> {
  const { codes } = context;
  if (codes.length === 0) throw new Error('the journey account has no recovery codes');
  // At most 10 sign-ins a second at one client (a verify takes far more than 100 ms at cost 12), with room to spare.
  const copies = Math.ceil(((context.warmupS + context.durationS) * 10) / codes.length) + 2;
  const usernames = Array.from({ length: copies }, (_, i) => `bench-recovery-${i + 1}`);
  const client = new pg.Client({ connectionString: context.databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO users (username, username_skeleton, provenance, password_hash, mfa_secret, recovery_code_digests, created_at, expired, status, last_totp_step, activated_at)
       SELECT c.username, c.skeleton, provenance, password_hash, mfa_secret, recovery_code_digests, created_at, expired, status, last_totp_step, activated_at
         FROM users, unnest($2::text[], $3::text[]) AS c(username, skeleton) WHERE users.username = $1`,
      [context.template, usernames, usernames.map(skeletonOf)],
    );
  } finally {
    await client.end();
  }

  const url = new URL(context.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const start = performance.now();
  const windowStart = start + context.warmupS * 1000;
  const windowEnd = windowStart + context.durationS * 1000;
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let used = 0;
  context.say(`recovery-code sign-in, 1 client: ours (${copies} accounts x ${codes.length} codes)`);
  while (performance.now() < windowEnd && used < copies * codes.length) {
    const username = usernames[Math.floor(used / codes.length)] as string;
    const code = codes[used % codes.length] as string;
    const codesLeft = codes.length - 1 - (used % codes.length);
    used++;
    const sent = performance.now();
    let failure = '';
    try {
      const answer = await post(
        agent,
        url,
        JSON.stringify({ username, password: context.password, recovery_code: code }),
        30_000,
      );
      const body = answer.status === 200 ? (JSON.parse(answer.text) as Record<string, unknown>) : {};
      const ok =
        body.authenticated === true &&
        body.recovery_codes_left === codesLeft &&
        typeof body.enrollment_token === 'string';
      if (!ok)
        failure = `${answer.status} ${answer.status === 200 ? `recovery_codes_left ${String(body.recovery_codes_left)}` : answer.text.slice(0, 160)}`;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    const done = performance.now();
    if (done < windowStart) continue;
    if (failure === '') latencies.push(done - sent);
    else {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(failure);
    }
  }
  agent.destroy();
  const latencyMs: LatencySummary | undefined = summarise(latencies);
  const p50 = latencyMs?.p50;
  return {
    name: 'recovery',
    lines: [
      `recovery-code sign-in, 1 client, ${context.durationS} s: p50 ${fmt(p50, 1)} ms, p95 ${fmt(latencyMs?.p95, 1)} ms, p99 ${fmt(latencyMs?.p99, 1)} ms, ` +
        `${fmt(latencies.length / context.durationS, 2)} req/s, errors ${errors}${errorSamples.length > 0 ? ` (${errorSamples.join('; ')})` : ''}`,
    ],
    targets: (floor) => [
      {
        target: 'recovery-code sign-in p50 (1 client) <= 1.10 x one bcrypt verify, no error',
        measured: `${fmt(p50, 1)} ms = ${fmt((p50 ?? Number.NaN) / (floor?.verifyMs.median ?? Number.NaN), 2)} x verify (${fmt(floor?.verifyMs.median)} ms); errors ${errors}`,
        met: p50 !== undefined && floor !== undefined && p50 <= 1.1 * floor.verifyMs.median && errors === 0,
      },
    ],
    figures: {
      clients: 1,
      windowSeconds: context.durationS,
      ok: latencies.length,
      errors,
      errorSamples,
      latencyMs,
      accounts: copies,
    },
  };
}
