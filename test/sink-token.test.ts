// Identity events to the broker with the sender's token (contract §11; knative/base/
// identity-events.yaml): on Knative the SinkBinding that sets K_SINK also mounts a token of
// its own ServiceAccount at /oidc/token, which Knative Eventing renews in place; the
// functions read it at each send (SINK_OIDC_TOKEN_FILE) and send it as
// `Authorization: Bearer`, since the broker refuses senders without one (401). A local
// HTTP sink stands in for the broker's ingress and, like it, refuses a missing or wrong token.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { makeSecretsDir, requireBackend, useServer } from './helpers/backends.js';
import { createAccount } from './helpers/journey.js';
import { rememberSecret } from './helpers/secrets.js';
import { ConfigError, loadConfig } from '../lib/config.js';
import { Database, createPool } from '../lib/db/database.js';
import { createLogger } from '../lib/log.js';
import { deliverPending, sendEvent, sinkToken } from '../lib/outbox.js';
import type { PendingEvent } from '../lib/db/audit.js';
import { pause } from './helpers/time.js';

interface Arrival {
  authorization: string | undefined;
  id: string;
  subject: string;
}

/** The broker's ingress as far as tokens go: 202 for the expected bearer token (any, when unset), 401 otherwise. */
class Ingress {
  readonly arrivals: Arrival[] = [];
  expected: string | undefined;
  private server: http.Server | undefined;

  async open(): Promise<string> {
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const authorization = req.headers.authorization;
        this.arrivals.push({
          authorization,
          id: String(req.headers['ce-id'] ?? ''),
          subject: String(req.headers['ce-subject'] ?? ''),
        });
        const admitted = this.expected === undefined || authorization === `Bearer ${this.expected}`;
        res.writeHead(admitted ? 202 : 401).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/cofrap/cofrap`;
  }

  async until(test: (arrivals: Arrival[]) => boolean): Promise<Arrival[]> {
    for (let i = 0; i < 200 && !test(this.arrivals); i++) await pause(25);
    return this.arrivals;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A token shaped as Knative's (a JWT), remembered so that the run's log check looks for it. */
function fakeToken(): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const token = `${part({ alg: 'RS256', kid: 'k' })}.${part({ sub: 'system:serviceaccount:cofrap:identity-events-oidc-sources.knative.dev-sinkbinding', aud: ['eventing.knative.dev/broker/cofrap/cofrap'] })}.${randomBytes(32).toString('base64url')}`;
  rememberSecret(token, 'token');
  return token;
}

const event = (id: string): PendingEvent => ({
  id,
  type: 'fr.cofrap.identity.account.created',
  source: '/cofrap/identity/generate-password',
  subject: 'st.user',
  data: { username: 'st.user' },
  createdAt: new Date(),
  attempts: 0,
});

const ingress = new Ingress();
const sinkUrl = await ingress.open();
const dir = mkdtempSync(path.join(tmpdir(), 'cofrap-oidc-'));
const tokenFile = path.join(dir, 'token');
after(async () => {
  await ingress.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("identity events: the sender's token for the broker (SINK_OIDC_TOKEN_FILE)", () => {
  beforeEach(() => {
    ingress.arrivals.length = 0;
    ingress.expected = undefined;
    rmSync(tokenFile, { force: true });
  });

  it("sends Authorization: Bearer with the file's token, read again at each send (Knative renews it in place)", async () => {
    const first = fakeToken();
    writeFileSync(tokenFile, first);
    ingress.expected = first;
    expect(await sendEvent(sinkUrl, event('00000000-0000-4000-8000-000000000001'), 2000, tokenFile)).to.deep.equal({
      status: 202,
      withToken: true,
    });
    const renewed = fakeToken();
    writeFileSync(tokenFile, `${renewed}\n`);
    ingress.expected = renewed;
    expect(await sendEvent(sinkUrl, event('00000000-0000-4000-8000-000000000002'), 2000, tokenFile)).to.deep.equal({
      status: 202,
      withToken: true,
    });
    expect(ingress.arrivals.map((a) => a.authorization)).to.deep.equal([`Bearer ${first}`, `Bearer ${renewed}`]);
  });

  it('no header without SINK_OIDC_TOKEN_FILE, nor while its file does not exist (sender identity off); the broker then answers 401', async () => {
    ingress.expected = 'anything';
    expect(await sendEvent(sinkUrl, event('00000000-0000-4000-8000-000000000003'), 2000)).to.deep.equal({
      status: 401,
      withToken: false,
    });
    expect(await sendEvent(sinkUrl, event('00000000-0000-4000-8000-000000000004'), 2000, tokenFile)).to.deep.equal({
      status: 401,
      withToken: false,
    });
    expect(ingress.arrivals.map((a) => a.authorization)).to.deep.equal([undefined, undefined]);
    expect(await sinkToken(undefined)).to.equal(undefined);
    expect(await sinkToken(tokenFile)).to.equal(undefined);
  });

  it('a file that holds no token is an error that does not show its content, and nothing is sent', async () => {
    writeFileSync(tokenFile, 'not a token\n');
    let refused: unknown;
    await sendEvent(sinkUrl, event('00000000-0000-4000-8000-000000000005'), 2000, tokenFile).catch(
      (error: unknown) => (refused = error),
    );
    expect(String(refused)).to.include(tokenFile).and.not.include('not a token');
    writeFileSync(tokenFile, '');
    await sinkToken(tokenFile).then(
      () => expect.fail('an empty file must be refused'),
      (error: unknown) => expect(String(error)).to.include('does not hold a token'),
    );
    expect(ingress.arrivals).to.deep.equal([]);
  });

  it("SINK_OIDC_TOKEN_FILE must be an absolute path; the base manifests' /oidc/token is", () => {
    const secretsDir = makeSecretsDir();
    try {
      const base = { POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: secretsDir };
      expect(loadConfig(base).sinkTokenFile).to.equal(undefined);
      expect(loadConfig({ ...base, SINK_OIDC_TOKEN_FILE: '/oidc/token' }).sinkTokenFile).to.equal('/oidc/token');
      expect(() => loadConfig({ ...base, SINK_OIDC_TOKEN_FILE: 'oidc/token' })).to.throw(
        ConfigError,
        'SINK_OIDC_TOKEN_FILE',
      );
    } finally {
      rmSync(secretsDir, { recursive: true, force: true });
    }
  });
});

describe("identity events: the sender's token, end to end on postgres", function () {
  const live = useServer('postgres', { K_SINK: sinkUrl, SINK_OIDC_TOKEN_FILE: tokenFile });
  before(async function () {
    await requireBackend(this, 'postgres');
  });
  beforeEach(() => {
    ingress.arrivals.length = 0;
    rmSync(tokenFile, { force: true });
  });

  it('refused without the token (401, logged, left pending); sent with it, each event once; what was pending goes with the token too', async () => {
    const token = fakeToken();
    ingress.expected = token;

    // No token file yet (the SinkBinding's Secret not mounted): the broker refuses, the event waits.
    await createAccount(live.url, 'st.without');
    const pending = await live.backend.sql<{ id: string; attempts: number }>(
      "SELECT id::text, attempts FROM outbox WHERE subject = 'st.without'",
    );
    expect(pending, 'account.created and password.issued').to.have.length.greaterThan(0);
    const refused = await ingress.until((a) => a.filter((x) => x.subject === 'st.without').length === pending.length);
    expect(refused.filter((a) => a.subject === 'st.without').map((a) => a.authorization)).to.deep.equal(
      pending.map(() => undefined),
    );
    for (let i = 0; i < 200 && !live.process.output.some((line) => line.includes('identity_event_refused')); i++)
      await pause(25);
    const logged = live.process.output.find((line) => line.includes('identity_event_refused'));
    expect(logged, 'the refusal is logged').to.be.a('string');
    expect(JSON.parse(logged as string)).to.include({
      status: 401,
      with_token: false,
      type: 'fr.cofrap.identity.account.created',
    });
    for (let i = 0; i < 200; i++) {
      const [row] = await live.backend.sql<{ n: number }>(
        "SELECT count(*)::int AS n FROM outbox WHERE subject = 'st.without' AND delivered_at IS NULL AND attempts = 1",
      );
      if (row?.n === pending.length) break;
      await pause(25);
    }
    const waiting = await live.backend.sql<{ attempts: number }>(
      "SELECT attempts FROM outbox WHERE subject = 'st.without' AND delivered_at IS NULL",
    );
    expect(waiting.map((w) => w.attempts)).to.deep.equal(pending.map(() => 1));

    // The token appears (as Knative mounts it): the next events carry it.
    writeFileSync(tokenFile, token);
    ingress.arrivals.length = 0;
    await createAccount(live.url, 'st.with');
    const created = await live.backend.sql<{ id: string }>("SELECT id::text FROM outbox WHERE subject = 'st.with'");
    const sent = await ingress.until((a) => a.filter((x) => x.subject === 'st.with').length === created.length);
    expect(sent.filter((a) => a.subject === 'st.with').map((a) => a.authorization)).to.deep.equal(
      created.map(() => `Bearer ${token}`),
    );

    // And what was pending leaves with it at the next delivery (as a housekeeping tick sends it).
    await live.backend.sql("UPDATE outbox SET next_attempt_at = now() WHERE subject = 'st.without'");
    const quiet = createLogger({}, () => undefined);
    const db = new Database(createPool({ connectionString: live.backend.databaseUrl, max: 1 }, quiet));
    try {
      expect(await deliverPending(db, sinkUrl, quiet, { ids: pending.map((p) => p.id), tokenFile })).to.deep.equal({
        delivered: pending.length,
        failed: 0,
      });
    } finally {
      await db.close();
    }
    const later = ingress.arrivals.filter((a) => a.subject === 'st.without');
    expect(later.map((a) => a.id).sort()).to.deep.equal(pending.map((p) => p.id).sort());
    expect(later.map((a) => a.authorization)).to.deep.equal(pending.map(() => `Bearer ${token}`));
    const [delivered] = await live.backend.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE subject IN ('st.without', 'st.with') AND delivered_at IS NOT NULL",
    );
    expect(delivered?.n).to.equal(pending.length + created.length);
    // No token in the server's log.
    expect(live.process.output.join('\n')).to.not.include(token);
  });
});
