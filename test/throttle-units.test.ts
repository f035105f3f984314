// The pieces of issue 15's throttle and overload work on their own: the client address
// from the TCP peer and X-Forwarded-For, the bcrypt queue's admission and reservations,
// and their settings.
import { rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { IncomingMessage } from 'node:http';
import { expect } from 'chai';
import { resolveClientAddress } from '../lib/http/client-address.js';
import { BcryptQueue, QueueFullError, RequestOverError } from '../lib/crypto/bcrypt-queue.js';
import { ConfigError, loadConfig } from '../lib/config.js';
import { makeSecretsDir } from './helpers/backends.js';

/** A request as the server hands it over: a peer address and the headers. */
function requestFrom(peer: string, forwardedFor?: string): IncomingMessage {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: peer });
  const req = new IncomingMessage(socket);
  if (forwardedFor !== undefined) req.headers['x-forwarded-for'] = forwardedFor;
  return req;
}

describe('unit: client address', () => {
  it('without trusted hops: the TCP peer, whatever X-Forwarded-For says', () => {
    expect(resolveClientAddress(requestFrom('192.0.2.1', '203.0.113.9'), 0)).to.deep.equal({
      address: '192.0.2.1',
      peer: '192.0.2.1',
      forwardedEntries: 1,
    });
  });

  it('N hops: the entry N from the right; what the client wrote to its left is ignored', () => {
    const req = requestFrom('10.0.0.3', '6.6.6.6, 198.51.100.7, 10.0.0.1, 10.0.0.2');
    expect(resolveClientAddress(req, 1).address).to.equal('10.0.0.2');
    expect(resolveClientAddress(req, 3).address).to.equal('198.51.100.7');
    expect(resolveClientAddress(req, 3)).to.include({ peer: '10.0.0.3', forwardedEntries: 4 });
  });

  it('one canonical form per client: IPv4-mapped IPv6 and upper-case IPv6 become one key', () => {
    expect(resolveClientAddress(requestFrom('::ffff:127.0.0.1'), 0).address).to.equal('127.0.0.1');
    expect(resolveClientAddress(requestFrom('127.0.0.1', '2001:DB8:0:0::1'), 1).address).to.equal('2001:db8::1');
  });

  it('fewer entries than hops, or an entry that is not an address: the peer stands for the client, and says why', () => {
    expect(resolveClientAddress(requestFrom('10.0.0.3', '198.51.100.7'), 3)).to.deep.equal({
      address: '10.0.0.3',
      peer: '10.0.0.3',
      forwardedEntries: 1,
      fallback: 'missing_hops',
    });
    expect(resolveClientAddress(requestFrom('10.0.0.3', '010.1.1.1'), 1)).to.include({
      address: '10.0.0.3',
      fallback: 'not_an_address',
    });
    expect(resolveClientAddress(requestFrom('10.0.0.3', 'unknown'), 1)).to.include({
      address: '10.0.0.3',
      fallback: 'not_an_address',
    });
  });
});

describe('unit: bcrypt queue bound', () => {
  // 2 threads, 100 ms a job, 1 s bound: 20 jobs fit.
  const queue = (): BcryptQueue => new BcryptQueue(2, 1, 0.1);

  it('admits a request for all its jobs at once, and refuses the one that would wait past the bound', () => {
    const q = queue();
    const requests = Array.from({ length: 10 }, () => new AbortController());
    for (const r of requests) q.admit(r.signal, 2);
    expect(q.figures()).to.include({ reserved: 20, bound_jobs: 20, refused: 0 });
    const late = new AbortController();
    expect(() => q.admit(late.signal, 2))
      .to.throw(QueueFullError)
      .with.property('retryAfterSeconds', 1);
    expect(q.figures().refused).to.equal(1);
  });

  it("an admitted request's jobs run even when the queue has filled meanwhile; a job without admission is admitted alone", () => {
    const q = queue();
    const first = new AbortController();
    q.admit(first.signal, 2);
    const others = Array.from({ length: 9 }, () => new AbortController());
    for (const r of others) q.admit(r.signal, 2);
    q.enqueue(first.signal);
    q.enqueue(first.signal);
    expect(q.figures()).to.include({ queued: 2, reserved: 18 });
    expect(() => q.enqueue(new AbortController().signal)).to.throw(QueueFullError);
    expect(q.figures().queued).to.equal(2);
  });

  it('a request that ends gives back its reservation; one already over is stopped before it counts', () => {
    const q = queue();
    const r = new AbortController();
    q.admit(r.signal, 2);
    q.enqueue(r.signal);
    r.abort();
    expect(q.figures()).to.include({ queued: 1, reserved: 0 });
    q.finished(undefined);
    expect(q.figures()).to.include({ queued: 0, dropped: 1, computed: 0 });
    expect(() => q.admit(r.signal, 2)).to.throw(RequestOverError);
  });

  it('follows the measured job time: the first replaces the prior, the first five are averaged, then a moving average', () => {
    const q = queue();
    q.observe(0.4);
    expect(q.figures()).to.include({ job_ms: 400, bound_jobs: 5 });
    // one slow early measurement weighs as one job, no more
    q.enqueue(undefined);
    q.finished(0.1);
    expect(q.figures().job_ms).to.equal(250);
    for (let i = 0; i < 30; i++) {
      q.enqueue(undefined);
      q.finished(0.05);
    }
    expect(q.figures().job_ms).to.be.within(50, 52);
    expect(q.figures().computed).to.equal(31);
  });
});

describe('unit: throttle and overload settings', () => {
  const base = { POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: makeSecretsDir() };
  after(() => rmSync(base.SECRETS_DIR, { recursive: true, force: true }));

  it('defaults: the TCP peer, a 10 s bcrypt queue, a 10 s body', () => {
    expect(loadConfig(base)).to.include({ trustedProxyHops: 0, bcryptQueueSeconds: 10, requestBodyTimeoutMs: 10_000 });
  });

  for (const [name, value] of [
    ['TRUSTED_PROXY_HOPS', '-1'],
    ['TRUSTED_PROXY_HOPS', 'three'],
    ['TRUSTED_PROXY_HOPS', '17'],
    ['BCRYPT_QUEUE_SECONDS', '0'],
    ['REQUEST_BODY_TIMEOUT_MS', '10s'],
  ] as const) {
    it(`stops on ${name}=${value} with a message naming it`, () => {
      expect(() => loadConfig({ ...base, [name]: value })).to.throw(ConfigError, name);
    });
  }
});
