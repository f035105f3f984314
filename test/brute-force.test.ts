// Brute force and enumeration, against real processes on one real PostgreSQL: the three
// throttle counters (per username and address, per username, per address) count failures
// made on any replica, and an unknown username cannot be told from a wrong password,
// neither by the answer's body nor by its time.
import { expect } from 'chai';
import { Backend, requireBackend } from './helpers/backends.js';
import type { RunningProcess } from './helpers/process.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll } from './helpers/journey.js';
import { codeAt, stepWithMargin } from './helpers/totp.js';
import { ADDRESS_LIMIT, THRESHOLD, USERNAME_THRESHOLD } from '../lib/db/throttle.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
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
    [a, b] = await Promise.all([backend.start({ TRUSTED_PROXY_HOPS: '1' }), backend.start({ TRUSTED_PROXY_HOPS: '1' })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await backend.dispose();
  });

  it(`${THRESHOLD} failures from one address split across two processes lock that address out of the username on both, and only that address`, async () => {
    const [urlA, urlB] = [a?.url as string, b?.url as string];
    const step = await stepWithMargin();
    const account = await createAndEnroll(urlA, 'two.doors');
    const rightFrom = (url: string, address: string, at: number): Promise<Answer> =>
      postJson(`${url}/authenticate`, { username: 'two.doors', password: account.password, totp: codeAt(account.secret, at) }, from(address));
    // A, B, A, B, A: no process alone has seen five failures
    for (let i = 0; i < THRESHOLD; i++) {
      const answer = await postJson(`${i % 2 === 0 ? urlA : urlB}/authenticate`, wrong('two.doors'), from('192.0.2.1'));
      expect(answer.status, `attempt ${i + 1}`).to.equal(401);
    }
    const [row] = await backend.sql<{ failures: number }>("SELECT failures FROM auth_throttle WHERE username = 'two.doors' AND client_address = '192.0.2.1'");
    expect(row?.failures).to.equal(THRESHOLD);
    for (const url of [urlA, urlB]) {
      const refused = await postJson(`${url}/authenticate`, wrong('two.doors'), from('192.0.2.1'));
      expect(refused.status, url).to.equal(429);
      expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 30);
      // the right password and code too, on either replica
      expect((await rightFrom(url, '192.0.2.1', step)).status, url).to.equal(429);
    }
    // from elsewhere the employee signs in, on either replica
    expect((await rightFrom(urlB, '198.51.100.1', step)).status).to.equal(200);
    expect((await rightFrom(urlA, '198.51.100.1', step + 1)).status).to.equal(200);
  });

  it('20 concurrent wrong guesses from one address spread over both processes: at most five are checked', async () => {
    const [urlA, urlB] = [a?.url as string, b?.url as string];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => postJson(`${i % 2 === 0 ? urlA : urlB}/authenticate`, wrong('many.doors'), from('192.0.2.2'))));
    const checked = answers.filter((x) => x.status === 401).length;
    expect(checked, answers.map((x) => x.status).join()).to.be.within(1, THRESHOLD);
    expect(answers.filter((x) => x.status === 429)).to.have.length(20 - checked);
    const [row] = await backend.sql<{ failures: number }>("SELECT failures FROM auth_throttle WHERE username = 'many.doors'");
    expect(row?.failures).to.equal(checked);
    // a refused attempt counts nowhere: not towards the ceiling, not towards the address
    const [ceiling] = await backend.sql<{ failures: number }>("SELECT failures FROM auth_throttle_username WHERE username = 'many.doors'");
    expect(ceiling?.failures).to.equal(checked);
    const [address] = await backend.sql<{ n: number }>("SELECT cardinality(failed_at) AS n FROM auth_throttle_address WHERE client_address = '192.0.2.2'");
    expect(address?.n).to.equal(checked);
  });

  it('the username ceiling and the address limit are shared by both processes', async () => {
    const [urlA, urlB] = [a?.url as string, b?.url as string];
    // Near each threshold by SQL (100 and 51 bcrypt requests are throttle.test.ts's), across it over HTTP.
    await backend.sql('INSERT INTO auth_throttle_username (username, failures) VALUES ($1, $2)', ['shared.ceiling', USERNAME_THRESHOLD - 2]);
    expect((await postJson(`${urlA}/authenticate`, wrong('shared.ceiling'), from('10.9.0.1'))).status).to.equal(401);
    expect((await postJson(`${urlB}/authenticate`, wrong('shared.ceiling'), from('10.9.0.2'))).status).to.equal(401);
    for (const url of [urlA, urlB]) {
      expect((await postJson(`${url}/authenticate`, wrong('shared.ceiling'), from('10.9.0.3'))).status, `ceiling on ${url}`).to.equal(429);
    }

    await backend.sql("INSERT INTO auth_throttle_address (client_address, failed_at) VALUES ('10.9.1.1', array_fill(now(), ARRAY[$1::integer]))", [ADDRESS_LIMIT - 1]);
    expect((await postJson(`${urlA}/authenticate`, wrong('spray.a'), from('10.9.1.1'))).status).to.equal(401);
    expect((await postJson(`${urlB}/authenticate`, wrong('spray.b'), from('10.9.1.1'))).status).to.equal(401);
    for (const url of [urlA, urlB]) {
      expect((await postJson(`${url}/authenticate`, wrong('spray.c'), from('10.9.1.1'))).status, `address limit on ${url}`).to.equal(429);
      expect((await postJson(`${url}/authenticate`, wrong('spray.c'), from('10.9.1.2'))).status, `another address on ${url}`).to.equal(401);
    }
  });
});

describe('enumeration by timing on postgres (bcrypt cost 12)', function () {
  this.timeout(300_000);
  const ROUNDS = 21;
  const backend = new Backend('postgres');
  let server: RunningProcess | undefined;

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
    // the default cost, so the dummy-hash path is the one production runs
    server = await backend.start({ BCRYPT_COST: '12' });
  });
  after(async () => {
    await server?.stop();
    await backend.dispose();
  });

  it('an unknown user and a wrong password: identical bodies, median times within 20 %', async () => {
    const url = server?.url as string;
    // One account per round and one unknown name per round: nobody nears the throttle.
    for (let i = 0; i < ROUNDS; i++) await createAccount(url, `timed${i}`);
    const attempt = async (username: string): Promise<{ ms: number; answer: Answer }> => {
      const started = process.hrtime.bigint();
      const answer = await postJson(`${url}/authenticate`, { username, password: 'not-the-password-at-all', totp: '123456' });
      return { ms: Number(process.hrtime.bigint() - started) / 1e6, answer };
    };
    await attempt('warm.up.unknown');
    await attempt('timed0');

    const unknown: number[] = [];
    const wrongPassword: number[] = [];
    const bodies = new Set<string>();
    for (let i = 0; i < ROUNDS; i++) {
      // interleaved, and the order alternates, so drift in the machine's load hits both alike
      const pair = i % 2 === 0 ? [`nobody${i}`, `timed${i}`] : [`timed${i}`, `nobody${i}`];
      for (const username of pair) {
        const { ms, answer } = await attempt(username);
        expect(answer.status, answer.text).to.equal(401);
        bodies.add(answer.text);
        (username.startsWith('nobody') ? unknown : wrongPassword).push(ms);
      }
    }
    const [medianUnknown, medianWrong] = [median(unknown), median(wrongPassword)];
    const difference = Math.abs(medianUnknown - medianWrong) / Math.max(medianUnknown, medianWrong);
    console.log(`      medians over ${ROUNDS}+${ROUNDS}: unknown user ${medianUnknown.toFixed(1)} ms, wrong password ${medianWrong.toFixed(1)} ms (${(difference * 100).toFixed(1)} % apart)`);
    expect(bodies.size, [...bodies].join('\n')).to.equal(1);
    expect(difference).to.be.at.most(0.2);
  });
});
