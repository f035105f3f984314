// The real PostgreSQL going away under the service: through a TCP proxy the test cuts and
// restores, and by pg_terminate_backend on the service's own connections. While it is gone
// every request answers 503 with Retry-After (never 500) and /readyz says not ready; the
// service is back on its own once the database is; no account is half-written. Cuts are
// made when a query is on its way, not at fixed times; how long recovery took is logged,
// not asserted (recovery targets belong to the bench).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { Backend, adminQuery, requireBackend } from './helpers/backends.js';
import { startProcess } from './helpers/process.js';
import type { RunningProcess } from './helpers/process.js';
import { postJson, request } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, signIn } from './helpers/journey.js';
import { decodeQrPng } from './helpers/qr.js';
import { CuttableProxy } from './helpers/proxy.js';
import { sendEmployeeEvent } from './helpers/events.js';
import { rememberSecret } from './helpers/secrets.js';
import { currentStep } from './helpers/totp.js';
import { until } from './helpers/time.js';
import { SecretBox } from '../lib/crypto/fernet.js';
import { hashToken } from '../lib/crypto/tokens.js';

/** Polls /readyz until it answers 200; the milliseconds that took, for the log. */
async function millisecondsUntilReady(url: string): Promise<number> {
  const started = Date.now();
  await until(async () => (await request(`${url}/readyz`)).status === 200, `${url} never became ready again`, {
    everyMs: 10,
  });
  return Date.now() - started;
}

function expectUnavailable(answer: Answer, what: string): void {
  expect(answer.status, `${what}: ${answer.text}`).to.equal(503);
  expect(answer.body.code).to.equal('unavailable');
  expect(Number(answer.headers.get('retry-after')), what).to.be.greaterThan(0);
}

interface UserRow {
  username: string;
  status: string;
  password_hash: string | null;
  mfa_secret: string | null;
  expired: boolean;
  enrollment_token_hash: string | null;
  enrollment_open: boolean;
  renewal_token_hash: string | null;
  last_totp_step: number | null;
  staged_password_hash: string | null;
  staged_mfa_secret: string | null;
}

/** What must hold of every row whatever was cut when: no account is half-written. */
function expectConsistent(row: UserRow, box: SecretBox): void {
  const where = `${row.username} (${row.status})`;
  if (row.status !== 'invited' && row.status !== 'disabled')
    expect(row.password_hash, where).to.match(/^\$2[aby]\$\d\d\$/);
  if (row.status === 'pending') {
    expect(row.enrollment_token_hash, `${where}: a password without its enrollment token`).to.match(/^[0-9a-f]{64}$/);
    expect(row.renewal_token_hash, where).to.equal(null);
  }
  if (row.status === 'active') expect(row.mfa_secret, `${where}: active without a second factor`).to.not.equal(null);
  if (row.renewal_token_hash !== null)
    expect(row.expired, `${where}: a renewal token on a current account`).to.equal(true);
  if (row.mfa_secret !== null)
    expect(box.decrypt(row.mfa_secret), `${where}: an unreadable second factor`).to.be.a('string');
  if (row.staged_password_hash !== null || row.staged_mfa_secret !== null) {
    expect(row.status, `${where}: staged credentials on an account that is not active`).to.equal('active');
    expect(row.enrollment_token_hash, `${where}: staged credentials without their enrollment token`).to.match(
      /^[0-9a-f]{64}$/,
    );
  }
  if (row.staged_mfa_secret !== null)
    expect(box.decrypt(row.staged_mfa_secret), `${where}: an unreadable staged second factor`).to.be.a('string');
}

describe('database faults on postgres', function () {
  this.timeout(180_000);
  const backend = new Backend('postgres');
  const proxy = new CuttableProxy();
  let server: RunningProcess | undefined;
  let base = '';

  const rows = async (): Promise<Map<string, UserRow>> => {
    const list = await backend.sql<UserRow>(
      `SELECT username, status, password_hash, mfa_secret, expired, enrollment_token_hash,
              COALESCE(enrollment_expires_at > now(), FALSE) AS enrollment_open, renewal_token_hash, last_totp_step,
              staged_password_hash, staged_mfa_secret
         FROM users`,
    );
    return new Map(list.map((row) => [row.username, row]));
  };
  const box = (): SecretBox =>
    new SecretBox(readFileSync(path.join(backend.secretsDir, 'encryption-key'), 'utf8').trim().split('\n'));

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
    await proxy.open();
    // A password in the URL: the server trusts local connections and ignores it, but the
    // service holds it, and the run's log check looks for it.
    const password = randomBytes(12).toString('base64url');
    server = await startProcess({
      script: 'dev-server',
      env: {
        ...backend.env(),
        POSTGRES_HOST: '',
        DATABASE_URL: `postgresql://${backend.functionsRole}:${password}@127.0.0.1:${proxy.port}/${backend.name}`,
      },
    });
    base = server.url;
  });
  afterEach(function () {
    // a server that died under a fault is the finding: show how it died
    if (this.currentTest?.state === 'failed')
      console.log(
        [
          ...(server?.child.exitCode !== null ? (server?.output.slice(-45) ?? []) : []),
          ...(server?.output.filter((line) => line.includes('unhandled_error')) ?? []),
        ].join('\n'),
      );
  });
  after(async () => {
    await server?.stop();
    await proxy.cut();
    await backend.dispose();
  });

  it('answers 503 with Retry-After while the database is gone, writes nothing, and recovers by itself', async () => {
    expect((await createAccount(base, 'before.outage')).password).to.have.length(24);
    await proxy.cut();
    for (const [fn, body] of [
      ['generate-password', { username: 'during.outage' }],
      ['generate-2fa', { username: 'before.outage', enrollment_token: 'x' }],
      ['authenticate', { username: 'before.outage', password: 'x', totp: '123456' }],
    ] as const) {
      expectUnavailable(await postJson(`${base}/${fn}`, body), fn);
    }
    expectUnavailable(
      await sendEmployeeEvent(`${base}/employee-events`, 'fr.cofrap.hr.employee.created', {
        username: 'during.outage',
      }),
      'employee-events',
    );
    const notReady = await request(`${base}/readyz`);
    expectUnavailable(notReady, 'readyz');
    expect(notReady.body.error).to.match(/unreachable/);
    expect((await request(`${base}/healthz`)).status).to.equal(200);
    // still gone on a second try: every request since the cut has met a closed door
    expectUnavailable(
      await postJson(`${base}/generate-password`, { username: 'during.outage' }),
      'generate-password, again',
    );

    await proxy.restore();
    const back = Date.now();
    const readyAfter = await millisecondsUntilReady(base);
    const created = await postJson(`${base}/generate-password`, { username: 'during.outage' });
    console.log(
      `      recovery (busy machines vary): /readyz 200 after ${readyAfter} ms, first creation answered after ${Date.now() - back} ms`,
    );
    // the creation refused during the outage left nothing behind: it is created now
    expect(created.status, created.text).to.equal(201);
  });

  it('a database lost in the middle of creations, renewals and enrollments leaves no half-written account', async () => {
    // Ten expired active accounts with a renewal token the test knows, ten pending ones.
    const renewing = await Promise.all(Array.from({ length: 10 }, (_, i) => createAndEnroll(base, `renewing${i}`)));
    for (const account of renewing)
      expect((await signIn(base, account.username, account.password, account.secret, currentStep())).status).to.equal(
        200,
      );
    const renewalTokens = new Map(renewing.map((a) => [a.username, randomBytes(32).toString('base64url')]));
    for (const [username, token] of renewalTokens) {
      rememberSecret(token, 'token');
      await backend.sql(
        "UPDATE users SET expired = TRUE, renewal_token_hash = $2, renewal_expires_at = now() + interval '15 minutes' WHERE username = $1",
        [username, hashToken(token)],
      );
    }
    const enrolling = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        createAccount(base, `enrolling${i}`).then((c) => ({ username: `enrolling${i}`, ...c })),
      ),
    );
    const before = await rows();

    // Everything at once; meanwhile the database goes away and comes back, three times.
    const burst: Array<Promise<{ kind: 'create' | 'renew' | 'enroll'; username: string; answer: Answer }>> = [
      ...Array.from({ length: 20 }, (_, i) =>
        postJson(`${base}/generate-password`, { username: `newcomer${i}` }).then((answer) => ({
          kind: 'create' as const,
          username: `newcomer${i}`,
          answer,
        })),
      ),
      ...[...renewalTokens].map(([username, token]) =>
        postJson(`${base}/generate-password`, { username, renewal_token: token }).then((answer) => ({
          kind: 'renew' as const,
          username,
          answer,
        })),
      ),
      ...enrolling.map((e) =>
        postJson(`${base}/generate-2fa`, { username: e.username, enrollment_token: e.enrollmentToken }).then(
          (answer) => ({ kind: 'enroll' as const, username: e.username, answer }),
        ),
      ),
    ];
    let settled = false;
    const all = Promise.all(burst).finally(() => (settled = true));
    // Three times: cut as soon as a query is on its way (a request mid-work), then restore.
    let cuts = 0;
    for (let i = 0; i < 3; i++) {
      await Promise.race([proxy.nextTraffic(), all]);
      if (settled) break;
      await proxy.cut();
      cuts++;
      await proxy.restore();
    }
    const results = await all;
    const statuses = results.map((r) => r.answer.status);
    console.log(
      `      ${cuts} cuts; answers: ${JSON.stringify(Object.fromEntries([...new Set(statuses)].map((s) => [s, statuses.filter((x) => x === s).length])))}`,
    );
    expect(cuts).to.be.greaterThan(0);
    expect(statuses.filter((s) => s === 503).length, 'no request was caught by a cut').to.be.greaterThan(0);

    const after = await rows();
    const secretBox = box();
    for (const row of after.values()) expectConsistent(row, secretBox);
    for (const { kind, username, answer } of results) {
      const row = after.get(username);
      const was = before.get(username);
      const where = `${kind} ${username} → ${answer.status}`;
      if (answer.status === 503) {
        expect(answer.body.code, where).to.equal('unavailable');
        if (kind === 'renew') {
          // untouched, or wholly staged (committed, but the answer was lost); the credentials in use never change
          const inUse =
            row?.status === 'active' && row.password_hash === was?.password_hash && row.mfa_secret === was?.mfa_secret;
          const untouched =
            inUse && row?.renewal_token_hash === was?.renewal_token_hash && row?.staged_password_hash === null;
          const renewed = inUse && row?.renewal_token_hash === null && row?.staged_password_hash !== null;
          expect(untouched || renewed, `${where}: ${JSON.stringify(row)}`).to.equal(true);
        }
        if (kind === 'enroll') expect(row?.status, where).to.equal('pending');
        continue;
      }
      const expected = { create: 201, renew: 200, enroll: 200 }[kind];
      expect(answer.status, `${where}: ${answer.text}`).to.equal(expected);
      if (kind === 'enroll') {
        expect(secretBox.decrypt(row?.mfa_secret as string), where).to.equal(answer.body.manual_entry_key);
      } else if (kind === 'renew') {
        expect(row, where).to.include({
          status: 'active',
          password_hash: was?.password_hash,
          mfa_secret: was?.mfa_secret,
          renewal_token_hash: null,
          staged_mfa_secret: null,
          enrollment_token_hash: hashToken(answer.body.enrollment_token as string),
        });
        expect(
          await bcrypt.compare(decodeQrPng(answer.body.qr_code_base64 as string), row?.staged_password_hash as string),
          where,
        ).to.equal(true);
      } else {
        expect(row, where).to.include({
          status: 'pending',
          expired: false,
          mfa_secret: null,
          renewal_token_hash: null,
          enrollment_token_hash: hashToken(answer.body.enrollment_token as string),
        });
        expect(
          await bcrypt.compare(decodeQrPng(answer.body.qr_code_base64 as string), row?.password_hash as string),
          where,
        ).to.equal(true);
      }
    }
    // and the service is back by itself
    console.log(`      ready again after ${await millisecondsUntilReady(base)} ms`);
  });

  it('pg_terminate_backend on its connections while it serves: 503 or success, never 500, and it reconnects by itself', async () => {
    const signingIn = await Promise.all(Array.from({ length: 8 }, (_, i) => createAndEnroll(base, `steady${i}`)));
    const enrolling = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        createAccount(base, `late.enroller${i}`).then((c) => ({ username: `late.enroller${i}`, ...c })),
      ),
    );

    const answers: Answer[] = [];
    const expected = new Map<Answer, number>();
    const track = (promise: Promise<Answer>, success: number): Promise<void> =>
      promise.then((answer) => {
        answers.push(answer);
        expected.set(answer, success);
      });
    // the superuser's SQL: the database owner may not end the functions' sessions
    const terminate = async (): Promise<number> => {
      const [row] = await adminQuery<{ n: number }>(
        backend.name,
        "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'cofrap-credentials' AND pid <> pg_backend_pid()",
        [backend.name],
      );
      return row?.n ?? 0;
    };
    let terminated = 0;
    // three waves, so requests meet connections killed while idle (before the wave) and
    // while busy (as soon as the wave's first query is on its way)
    for (let wave = 0; wave < 3; wave++) {
      // Each wave signs in with the step current as it starts, made fresh for every account by
      // writing the step before it as their last: three waves need no three 30-second steps.
      const step = currentStep();
      await backend.sql('UPDATE users SET last_totp_step = $2 WHERE username = ANY($1)', [
        signingIn.map((a) => a.username),
        step - 1,
      ]);
      terminated += await terminate();
      const sent = Promise.all([
        ...Array.from({ length: 6 }, (_, i) =>
          track(postJson(`${base}/generate-password`, { username: `wave${wave}.user${i}` }), 201),
        ),
        ...signingIn.map((a) => track(signIn(base, a.username, a.password, a.secret, step), 200)),
        ...(wave === 0
          ? enrolling.map((e) =>
              track(
                postJson(`${base}/generate-2fa`, { username: e.username, enrollment_token: e.enrollmentToken }),
                200,
              ),
            )
          : []),
        track(request(`${base}/readyz`), 200),
      ]);
      await Promise.race([proxy.nextTraffic(), sent]);
      terminated += await terminate();
      await sent;
    }

    const statuses = answers.map((a) => a.status);
    console.log(
      `      ${terminated} connections terminated; answers: ${JSON.stringify(Object.fromEntries([...new Set(statuses)].map((s) => [s, statuses.filter((x) => x === s).length])))}`,
    );
    expect(terminated).to.be.greaterThan(0);
    for (const answer of answers) {
      if (answer.status === 503) expect(answer.body.code).to.equal('unavailable');
      else expect(answer.status, answer.text).to.equal(expected.get(answer));
    }

    const back = Date.now();
    const readyAfter = await millisecondsUntilReady(base);
    expect((await postJson(`${base}/generate-password`, { username: 'after.terminations' })).status).to.equal(201);
    console.log(
      `      recovery (busy machines vary): /readyz 200 after ${readyAfter} ms, a creation answered after ${Date.now() - back} ms`,
    );
    const secretBox = box();
    for (const row of (await rows()).values()) expectConsistent(row, secretBox);
  });
});
