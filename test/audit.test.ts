// The audit trail and the identity events (issue 16, contract §11), over real HTTP on the
// development server and a real PostgreSQL, with a real HTTP sink on this machine standing
// in for the broker (K_SINK). Waiting is bounded polling of what the sink received, never
// a fixed sleep.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { requireBackend, useServer } from './helpers/backends.js';
import type { LiveServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import { nextStep } from './helpers/totp.js';
import { decodeHeaderValue } from '../lib/cloudevents-http.js';
import { Database, createPool } from '../lib/db/database.js';
import { deliverPending } from '../lib/outbox.js';
import { createLogger } from '../lib/log.js';

interface Received {
  id: string;
  type: string;
  subject: string;
  source: string;
  data: Record<string, unknown>;
}

/** A CloudEvents sink on 127.0.0.1 that records what it is sent, or refuses it. */
class Sink {
  readonly received: Received[] = [];
  status = 202;
  private server: http.Server | undefined;

  async open(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (this.status < 300) {
          const header = (name: string): string => decodeHeaderValue(String(req.headers[name] ?? ''));
          this.received.push({
            id: header('ce-id'),
            type: header('ce-type'),
            subject: header('ce-subject'),
            source: header('ce-source'),
            data: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          });
        }
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** Waits (bounded) until `count` events have arrived. */
  async until(count: number): Promise<Received[]> {
    for (let i = 0; i < 200 && this.received.length < count; i++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    return this.received;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const sink = new Sink();
const sinkUrl = await sink.open();
after(() => sink.close());

interface AuditRow {
  id: string;
  type: string;
  username: string | null;
  actor: string;
  request_id: string | null;
  details: Record<string, unknown>;
}

const trailOf = (live: LiveServer, username: string): Promise<AuditRow[]> =>
  live.backend.sql<AuditRow>(
    'SELECT id::text, type, username, actor, request_id, details FROM audit_log WHERE username = $1 ORDER BY time, type',
    [username],
  );

describe('audit trail and identity events on postgres', function () {
  const live = useServer('postgres', { K_SINK: sinkUrl });
  before(async function () {
    await requireBackend(this, 'postgres');
  });

  // Which records and events each change writes, in its transaction, is test/lifecycle-audit.test.ts's; here, their delivery.
  it('each identity event reaches the sink once after the commit, as the CloudEvent of its record, and is marked delivered', async () => {
    sink.received.length = 0;
    const account = await createAccount(live.url, 'au.self');
    await enroll(live.url, 'au.self', account.enrollmentToken);
    await enroll(live.url, 'au.self', account.enrollmentToken);
    const trail = await trailOf(live, 'au.self');
    for (const row of trail) expect(row.request_id).to.be.a('string');
    const received = (await sink.until(3)).filter((e) => e.subject === 'au.self');
    expect(received.map((e) => e.id).sort()).to.deep.equal(trail.map((r) => r.id).sort());
    expect(received.map((e) => e.type).sort()).to.deep.equal([
      'fr.cofrap.identity.account.created',
      'fr.cofrap.identity.password.issued',
      'fr.cofrap.identity.second-factor.enrolled',
    ]);
    for (const event of received) {
      expect(event.source).to.match(/^\/cofrap\/identity\/generate-(password|2fa)$/);
      expect(event.data.username).to.equal('au.self');
    }
    // marked delivered once the sink answered (bounded wait for the deliverer's commit)
    let pending = -1;
    for (let i = 0; i < 200 && pending !== 0; i++) {
      const [row] = await live.backend.sql<{ n: number }>(
        "SELECT count(*)::int AS n FROM outbox WHERE subject = 'au.self' AND delivered_at IS NULL",
      );
      pending = row?.n ?? -1;
      if (pending !== 0) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(pending).to.equal(0);
  });

  it('sign-ins: each outcome recorded, the refusal reasons in the trail only, credentials.suspicious after three wrong codes behind a right password', async () => {
    const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
    const account = await createAndEnroll(live.url, 'au.signin');
    expect((await signIn(live.url, 'au.signin', account.password, account.secret, step - 1)).status).to.equal(200);
    expect((await signIn(live.url, 'au.signin', account.password, account.secret, step)).status).to.equal(200);
    const wrongCode = (code: string): Promise<unknown> =>
      postJson(`${live.url}/authenticate`, { username: 'au.signin', password: account.password, totp: code });
    await postJson(`${live.url}/authenticate`, { username: 'au.signin', password: 'not-it', totp: '000000' });
    await postJson(`${live.url}/authenticate`, { username: 'au.nobody', password: 'not-it', totp: '000000' });
    for (const code of ['000000', '111111', '222222']) await wrongCode(code);
    const trail = await live.backend.sql<{ type: string; reason: string | null }>(
      "SELECT type, details->>'reason' AS reason FROM audit_log WHERE username IN ('au.signin', 'au.nobody') AND type NOT IN ('account.created', 'password.issued', 'second-factor.enrolled') ORDER BY time, id",
    );
    expect(trail.map((r) => (r.reason === null ? r.type : `${r.type}:${r.reason}`))).to.deep.equal([
      'account.activated',
      'signin.succeeded',
      'signin.failed:password',
      'signin.failed:unknown_user',
      'signin.failed:code',
      'signin.failed:code',
      'signin.failed:code',
      'credentials.suspicious',
    ]);
    const [suspicious] = await live.backend.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE subject = 'au.signin' AND type = 'fr.cofrap.identity.credentials.suspicious'",
    );
    expect(suspicious?.n).to.equal(1);
    const [failures] = await live.backend.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE subject IN ('au.signin', 'au.nobody') AND type LIKE '%signin%'",
    );
    expect(failures?.n, 'sign-in outcomes stay in the trail').to.equal(0);
  });

  it('after a sink outage the events wait; the next delivery sends each once, even from two deliverers at once', async () => {
    sink.status = 503;
    sink.received.length = 0;
    await createAndEnroll(live.url, 'au.outage');
    // the background attempt failed (the sink refused): nothing received, all pending with a backoff
    for (let i = 0; i < 200; i++) {
      const [row] = await live.backend.sql<{ tried: number }>(
        "SELECT count(*)::int AS tried FROM outbox WHERE subject = 'au.outage' AND attempts > 0",
      );
      if (row?.tried === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const pending = await live.backend.sql<{ id: string; attempts: number }>(
      "SELECT id::text, attempts FROM outbox WHERE subject = 'au.outage' AND delivered_at IS NULL",
    );
    expect(pending).to.have.length(3);
    for (const row of pending) expect(row.attempts).to.equal(1);

    sink.status = 202;
    await live.backend.sql("UPDATE outbox SET next_attempt_at = now() WHERE subject = 'au.outage'");
    const quiet = createLogger({}, () => undefined);
    const a = new Database(createPool({ connectionString: live.backend.databaseUrl, max: 1 }, quiet));
    const b = new Database(createPool({ connectionString: live.backend.databaseUrl, max: 1 }, quiet));
    try {
      const ids = pending.map((p) => p.id);
      const [first, second] = await Promise.all([
        deliverPending(a, sinkUrl, quiet, { ids }),
        deliverPending(b, sinkUrl, quiet, { ids }),
      ]);
      expect(first.delivered + second.delivered).to.equal(3);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const received = sink.received.filter((e) => e.subject === 'au.outage');
    expect(received.map((e) => e.id).sort()).to.deep.equal(pending.map((p) => p.id).sort());
  });
});
