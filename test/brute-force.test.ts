// Brute force and enumeration, against real processes on one real PostgreSQL: the three
// throttle counters (per username and address, per username, per address) count failures
// made on any replica, and an unknown username cannot be told from a wrong password,
// neither by the answer's body nor by the work behind it (its time is logged).
import { expect } from 'chai';
import { Backend, requireBackend } from './helpers/backends.js';
import type { RunningProcess } from './helpers/process.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll } from './helpers/journey.js';
import { codeAt, currentStep } from './helpers/totp.js';
import { until } from './helpers/time.js';
import { createLogger } from '../lib/log.js';
import { ADDRESS_LIMIT, THRESHOLD, USERNAME_THRESHOLD } from '../lib/db/throttle.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

describe('brute force across two replicas on postgres', function () {
  this.timeout(120_000);
  const backend = new Backend('postgres');
  let a: RunningProcess | undefined;
  let b: RunningProcess | undefined;
  // As behind the ingress: the address a request comes from is the last X-Forwarded-For entry.
  const from = (address: string): Record<string, string> => ({ 'x-forwarded-for': address });
  const wrong = (username: string): Record<string, string> => ({ username, password: 'a-wrong-guess', totp: '000000' });

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
    [a, b] = await Promise.all([
      backend.start({ TRUSTED_PROXY_HOPS: '1' }),
      backend.start({ TRUSTED_PROXY_HOPS: '1' }),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await backend.dispose();
  });

  it(`${THRESHOLD} failures from one address split across two processes lock that address out of the username on both, and only that address`, async () => {
    const [urlA, urlB] = [a?.url as string, b?.url as string];
    const account = await createAndEnroll(urlA, 'two.doors');
    const rightFrom = (url: string, address: string, at: number): Promise<Answer> =>
      postJson(
        `${url}/authenticate`,
        { username: 'two.doors', password: account.password, totp: codeAt(account.secret, at) },
        from(address),
      );
    // A, B, A, B, A: no process alone has seen five failures
    for (let i = 0; i < THRESHOLD; i++) {
      const answer = await postJson(`${i % 2 === 0 ? urlA : urlB}/authenticate`, wrong('two.doors'), from('192.0.2.1'));
      expect(answer.status, `attempt ${i + 1}`).to.equal(401);
    }
    const [row] = await backend.sql<{ failures: number }>(
      "SELECT failures FROM auth_throttle WHERE username = 'two.doors' AND client_address = '192.0.2.1'",
    );
    expect(row?.failures).to.equal(THRESHOLD);
    for (const url of [urlA, urlB]) {
      const refused = await postJson(`${url}/authenticate`, wrong('two.doors'), from('192.0.2.1'));
      expect(refused.status, url).to.equal(429);
      expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 30);
      // the right password and code too, on either replica
      expect((await rightFrom(url, '192.0.2.1', currentStep())).status, url).to.equal(429);
    }
    // from elsewhere the employee signs in, on either replica (steps step and step + 1: helpers/totp.ts)
    const step = currentStep();
    expect((await rightFrom(urlB, '198.51.100.1', step)).status).to.equal(200);
    expect((await rightFrom(urlA, '198.51.100.1', step + 1)).status).to.equal(200);
  });

  it('the username ceiling and the address limit are shared by both processes', async () => {
    const [urlA, urlB] = [a?.url as string, b?.url as string];
    // Near each threshold by SQL (100 and 51 bcrypt requests are throttle.test.ts's), across it over HTTP.
    await backend.sql('INSERT INTO auth_throttle_username (username, failures) VALUES ($1, $2)', [
      'shared.ceiling',
      USERNAME_THRESHOLD - 2,
    ]);
    expect((await postJson(`${urlA}/authenticate`, wrong('shared.ceiling'), from('10.9.0.1'))).status).to.equal(401);
    expect((await postJson(`${urlB}/authenticate`, wrong('shared.ceiling'), from('10.9.0.2'))).status).to.equal(401);
    for (const url of [urlA, urlB]) {
      expect(
        (await postJson(`${url}/authenticate`, wrong('shared.ceiling'), from('10.9.0.3'))).status,
        `ceiling on ${url}`,
      ).to.equal(429);
    }

    await backend.sql(
      "INSERT INTO auth_throttle_address (client_address, failed_at) VALUES ('10.9.1.1', array_fill(now(), ARRAY[$1::integer]))",
      [ADDRESS_LIMIT - 1],
    );
    expect((await postJson(`${urlA}/authenticate`, wrong('spray.a'), from('10.9.1.1'))).status).to.equal(401);
    expect((await postJson(`${urlB}/authenticate`, wrong('spray.b'), from('10.9.1.1'))).status).to.equal(401);
    for (const url of [urlA, urlB]) {
      expect(
        (await postJson(`${url}/authenticate`, wrong('spray.c'), from('10.9.1.1'))).status,
        `address limit on ${url}`,
      ).to.equal(429);
      expect(
        (await postJson(`${url}/authenticate`, wrong('spray.c'), from('10.9.1.2'))).status,
        `another address on ${url}`,
      ).to.equal(401);
    }
  });
});

// Whether an unknown username can be told from a wrong password by the answer's time is
// decided by the work each does: both must run the same bcrypt verifications, at the
// configured cost (the dummy hash carries it). That is asserted from the process's own
// debug log; the times are logged for the reader, never asserted (they belong to the bench).
describe('enumeration by timing on postgres', function () {
  const ROUNDS = 6;
  const backend = new Backend('postgres');
  let server: RunningProcess | undefined;

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
    server = await backend.start({ LOG_LEVEL: 'debug' });
  });
  after(async () => {
    await server?.stop();
    await backend.dispose();
  });

  it('an unknown user and a wrong password: identical bodies, the same bcrypt verifications; times logged', async () => {
    const running = server as RunningProcess;
    const entries = (): Array<Record<string, unknown>> =>
      running.output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    // One account per round and one unknown name per round: nobody nears the throttle.
    for (let i = 0; i < ROUNDS; i++) await createAccount(running.url, `timed${i}`);
    /** One sign-in, and the bcrypt jobs the process logged for it (requests go one at a time). */
    const attempt = async (username: string): Promise<{ ms: number; answer: Answer; jobs: string[] }> => {
      const before = entries().length;
      const started = process.hrtime.bigint();
      const answer = await postJson(`${running.url}/authenticate`, {
        username,
        password: 'not-the-password-at-all',
        totp: '123456',
      });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const requestId = answer.headers.get('x-request-id') as string;
      const logged = await until(() => {
        const since = entries().slice(before);
        const end = since.findIndex((e) => e.event === 'request' && e.request_id === requestId);
        return end >= 0 && since.slice(0, end);
      }, `no request line for ${username}`);
      return {
        ms,
        answer,
        jobs: logged.filter((e) => e.event === 'bcrypt_job').map((e) => `${String(e.op)} ${String(e.outcome)}`),
      };
    };

    const times = { unknown: [] as number[], wrong: [] as number[] };
    const bodies = new Set<string>();
    for (let i = 0; i < ROUNDS; i++) {
      const unknown = await attempt(`nobody${i}`);
      const wrong = await attempt(`timed${i}`);
      for (const { answer } of [unknown, wrong]) {
        expect(answer.status, answer.text).to.equal(401);
        bodies.add(answer.text);
      }
      expect(wrong.jobs, 'a wrong password').to.deep.equal(['verify computed', 'verify computed']);
      expect(unknown.jobs, 'an unknown user').to.deep.equal(wrong.jobs);
      times.unknown.push(unknown.ms);
      times.wrong.push(wrong.ms);
    }
    expect(bodies.size, [...bodies].join('\n')).to.equal(1);
    console.log(
      `      medians over ${ROUNDS}+${ROUNDS} (busy machines vary): unknown user ${median(times.unknown).toFixed(1)} ms, wrong password ${median(times.wrong).toFixed(1)} ms`,
    );
  });

  it('the dummy hash an unknown user is checked against carries the configured cost', async () => {
    const { PasswordHasher } = await import('../lib/crypto/bcrypt.js');
    // the hashes verifyDummy hands to verify, as they are passed
    class RecordingHasher extends PasswordHasher {
      readonly verified: string[] = [];
      override verify(password: string, hash: string, signal?: AbortSignal): Promise<boolean> {
        this.verified.push(hash);
        return super.verify(password, hash, signal);
      }
    }
    const hasher = new RecordingHasher(11, 1, 'bcryptjs', { queueSeconds: 60, log: createLogger({}, () => undefined) });
    try {
      expect(await hasher.verifyDummy('not-the-password-at-all')).to.equal(false);
      expect(hasher.verified).to.have.length(1);
      expect(hasher.verified[0]).to.match(/^\$2b\$11\$[./A-Za-z0-9]{53}$/);
    } finally {
      await hasher.close();
    }
  });
});
