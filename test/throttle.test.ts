// The throttle per client address (contract §6, issue 15 item 3), over real HTTP on the
// development server and a real PostgreSQL, behind one trusted proxy hop: each request
// says where it comes from in X-Forwarded-For, as the ingress would. Time is moved by
// writing timestamps (a lock "lapses" when locked_until is written into the past), never
// by waiting.
import { expect } from 'chai';
import { useServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAndEnroll } from './helpers/journey.js';
import { codeAt, currentStep, nextStep } from './helpers/totp.js';
import { Database, createPool } from '../lib/db/database.js';
import { createLogger } from '../lib/log.js';
import { ADDRESS_LIMIT, PAIR_THRESHOLD, USERNAME_THRESHOLD, prune } from '../lib/db/throttle.js';

/** How many of the failures that reach a threshold each test sends over HTTP (the rest it writes). */
const FROM_HERE = 10;

/** What the ingress appends: the address it received the request from. */
const from = (address: string, forgedByClient?: string): Record<string, string> => ({
  'x-forwarded-for': forgedByClient === undefined ? address : `${forgedByClient}, ${address}`,
});

function expectStatus(answer: Answer, status: number, what = ''): void {
  expect(answer.status, `${what} ${answer.text}`).to.equal(status);
}

/** Runs `count` requests, `width` at a time (the bcrypt queue stays far below its bound). */
async function inBatches<T>(count: number, width: number, send: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += width) {
    results.push(
      ...(await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, k) => send(start + k)))),
    );
  }
  return results;
}

describe('throttle per client address on postgres (TRUSTED_PROXY_HOPS=1)', function () {
  this.timeout(180_000);
  const live = useServer('postgres', { TRUSTED_PROXY_HOPS: '1', LOG_LEVEL: 'debug' });
  const wrong = (username: string): Record<string, string> => ({
    username,
    password: 'not-the-password',
    totp: '000000',
  });
  const fail = (username: string, address: string, forged?: string): Promise<Answer> =>
    postJson(`${live.url}/authenticate`, wrong(username), from(address, forged));
  const signInFrom = (
    address: string,
    username: string,
    password: string,
    secret: string,
    step: number,
  ): Promise<Answer> =>
    postJson(`${live.url}/authenticate`, { username, password, totp: codeAt(secret, step) }, from(address));
  const logged = (event: string, username?: string): Array<Record<string, unknown>> =>
    live.process.output
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.event === event && (username === undefined || entry.username === username));

  it('keys on the entry one hop from the right: what a client writes to its left changes nothing', async () => {
    for (let i = 0; i < PAIR_THRESHOLD; i++)
      expectStatus(await fail('left.forged', '198.51.100.7', `203.0.113.${i}`), 401, `attempt ${i + 1}`);
    const refused = await fail('left.forged', '198.51.100.7', '203.0.113.99');
    expectStatus(refused, 429);
    expect(refused.body.code).to.equal('too_many_requests');
    expectStatus(await fail('left.forged', '198.51.100.8'), 401, 'another address');
    const rows = await live.backend.sql<{ client_address: string; failures: number }>(
      "SELECT client_address, failures FROM auth_throttle WHERE username = 'left.forged' ORDER BY client_address",
    );
    expect(rows).to.deep.equal([
      { client_address: '198.51.100.7', failures: PAIR_THRESHOLD },
      { client_address: '198.51.100.8', failures: 1 },
    ]);
    // what an operator reads at debug level to check TRUSTED_PROXY_HOPS (docs/operations.md, "Client address")
    const resolved = logged('client_address').find((entry) => entry.client_address === '198.51.100.7');
    expect(resolved).to.include({ peer: '127.0.0.1', forwarded_entries: 2, trusted_proxy_hops: 1 });
  });

  it('an attacker at A locking V does not stop V signing in from B; A stays locked', async () => {
    const victim = await createAndEnroll(live.url, 'held.off');
    const [attacker, office] = ['192.0.2.66', '198.51.100.20'];
    for (let i = 0; i < PAIR_THRESHOLD; i++) expectStatus(await fail('held.off', attacker), 401, `attempt ${i + 1}`);
    const locked = await fail('held.off', attacker);
    expectStatus(locked, 429);
    expect(Number(locked.headers.get('retry-after'))).to.be.within(1, 30);
    // the right password from A is refused too: nothing is checked while the lock runs
    expectStatus(
      await signInFrom(attacker, 'held.off', victim.password, victim.secret, currentStep()),
      429,
      'right password from A',
    );

    expectStatus(
      await signInFrom(office, 'held.off', victim.password, victim.secret, currentStep()),
      200,
      'the employee from B',
    );
    expectStatus(await fail('held.off', attacker), 429, 'A after the success from B');
    const pairs = await live.backend.sql<{ client_address: string; locked: boolean }>(
      "SELECT client_address, locked_until > now() AS locked FROM auth_throttle WHERE username = 'held.off'",
    );
    expect(pairs).to.deep.equal([{ client_address: attacker, locked: true }]);
    // the success reset the username's ceiling count
    expect(await live.backend.sql("SELECT 1 FROM auth_throttle_username WHERE username = 'held.off'")).to.have.length(
      0,
    );
  });

  it(`the ${USERNAME_THRESHOLD}th failure in a row, from whichever addresses, locks V everywhere for 15 min, doubling; one account_locked each time; a success resets`, async () => {
    const victim = await createAndEnroll(live.url, 'many.hands');
    // The first failures are written into the count (each one costs two bcrypt verifies
    // over HTTP); the last FROM_HERE come over HTTP, from as many addresses, 10 at a time.
    await live.backend.sql('INSERT INTO auth_throttle_username (username, failures) VALUES ($1, $2)', [
      'many.hands',
      USERNAME_THRESHOLD - FROM_HERE,
    ]);
    const answers = await inBatches(FROM_HERE, 10, (i) => fail('many.hands', `10.1.${i >> 8}.${i & 255}`));
    expect(
      answers.filter((a) => a.status === 401),
      answers.map((a) => a.status).join(),
    ).to.have.length(FROM_HERE);
    const lockSeconds = async (): Promise<number> =>
      (
        await live.backend.sql<{ s: number }>(
          "SELECT extract(epoch FROM locked_until - now())::float8 AS s FROM auth_throttle_username WHERE username = 'many.hands'",
        )
      )[0]?.s ?? 0;
    expect(await lockSeconds()).to.be.within(14 * 60, 15 * 60);
    expect(logged('account_locked', 'many.hands')).to.have.length(1);

    // from an address never seen, with the right password: refused, not checked
    const refused = await signInFrom('10.2.0.1', 'many.hands', victim.password, victim.secret, currentStep());
    expectStatus(refused, 429);
    expect(Number(refused.headers.get('retry-after'))).to.be.within(14 * 60, 15 * 60);
    expect(logged('sign_in_throttled', 'many.hands').at(-1)?.scopes).to.deep.equal(['username']);

    // the lock lapses; the next failure locks again, twice as long
    await live.backend.sql(
      "UPDATE auth_throttle_username SET locked_until = now() - interval '1 second' WHERE username = 'many.hands'",
    );
    expectStatus(await fail('many.hands', '10.2.0.2'), 401);
    expect(await lockSeconds()).to.be.within(29 * 60, 30 * 60);
    expect(logged('account_locked', 'many.hands')).to.have.length(2);

    await live.backend.sql(
      "UPDATE auth_throttle_username SET locked_until = now() - interval '1 second' WHERE username = 'many.hands'",
    );
    expectStatus(
      await signInFrom('10.2.0.3', 'many.hands', victim.password, victim.secret, currentStep()),
      200,
      'after the lock',
    );
    expect(await live.backend.sql("SELECT 1 FROM auth_throttle_username WHERE username = 'many.hands'")).to.have.length(
      0,
    );
  });

  it(`${ADDRESS_LIMIT + 1} failures from one address within the window, over as many usernames, refuse that address for a fresh username; another address is not`, async () => {
    const bystander = await createAndEnroll(live.url, 'by.stander');
    const sprayer = '203.0.113.50';
    // The earlier failures written into the window, a second apart; the last FROM_HERE over HTTP.
    await live.backend.sql(
      'INSERT INTO auth_throttle_address (client_address, failed_at) SELECT $1, ARRAY(SELECT now() - make_interval(secs => n) FROM generate_series($2::int, 1, -1) AS n)',
      [sprayer, ADDRESS_LIMIT + 1 - FROM_HERE],
    );
    const answers = await inBatches(FROM_HERE, 10, (i) => fail(`sprayed.${i}`, sprayer));
    expect(answers.map((a) => a.status)).to.deep.equal(Array(FROM_HERE).fill(401));

    const refused = await fail('fresh.name', sprayer);
    expectStatus(refused, 429);
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 15 * 60);
    expect(logged('sign_in_throttled', 'fresh.name').at(-1)?.scopes).to.deep.equal(['address']);
    // whatever the username, a right password included
    expectStatus(
      await signInFrom(sprayer, 'by.stander', bystander.password, bystander.secret, currentStep()),
      429,
      'a right password from the sprayer',
    );
    expectStatus(await fail('fresh.name', '203.0.113.51'), 401, 'another address');
    expectStatus(
      await signInFrom('203.0.113.51', 'by.stander', bystander.password, bystander.secret, currentStep()),
      200,
      'the bystander elsewhere',
    );

    // the window slides: once the failures are 15 minutes old, the address may try again
    await live.backend.sql(
      "UPDATE auth_throttle_address SET failed_at = ARRAY(SELECT f - interval '15 minutes' FROM unnest(failed_at) AS f) WHERE client_address = $1",
      [sprayer],
    );
    expectStatus(await fail('fresh.name', sprayer), 401, 'after the window');
  });

  it('a success takes back its own failure from the address, not the others', async () => {
    const account = await createAndEnroll(live.url, 'own.goal');
    const address = '198.51.100.77';
    for (let i = 0; i < 3; i++) expectStatus(await fail(`typo.${i}`, address), 401);
    expectStatus(await signInFrom(address, 'own.goal', account.password, account.secret, currentStep()), 200);
    const [row] = await live.backend.sql<{ n: number }>(
      'SELECT cardinality(failed_at) AS n FROM auth_throttle_address WHERE client_address = $1',
      [address],
    );
    expect(row?.n).to.equal(3);
  });

  it('a 403 (both factors proven, credentials expired) resets the counts like a success', async () => {
    const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
    const account = await createAndEnroll(live.url, 'old.creds');
    expectStatus(await signInFrom('192.0.2.10', 'old.creds', account.password, account.secret, step - 1), 200);
    await live.backend.sql("UPDATE users SET created_at = now() - interval '7 months' WHERE username = 'old.creds'");
    for (let i = 0; i < PAIR_THRESHOLD - 1; i++) expectStatus(await fail('old.creds', '192.0.2.10'), 401);
    // counted first (the fifth), then reset by the proof of both factors
    expectStatus(await signInFrom('192.0.2.10', 'old.creds', account.password, account.secret, step), 403);
    for (let i = 0; i < PAIR_THRESHOLD - 1; i++)
      expectStatus(await fail('old.creds', '192.0.2.10'), 401, `after the 403, attempt ${i + 1}`);
  });

  it('prune: rows of unknown usernames do not outlive their lock; accounts keep theirs; idle addresses go', async () => {
    await createAndEnroll(live.url, 'known.one');
    const address = '192.0.2.200';
    for (let i = 0; i < PAIR_THRESHOLD; i++) expectStatus(await fail('ghost.locked', address), 401);
    for (let i = 0; i < 2; i++) expectStatus(await fail('ghost.counting', address), 401);
    for (let i = 0; i < 2; i++) expectStatus(await fail('known.one', address), 401);

    const db = new Database(createPool({ connectionString: live.backend.databaseUrl, max: 1 }, createLogger()));
    try {
      const rowsOf = async (table: string): Promise<string[]> =>
        (
          await live.backend.sql<{ username: string }>(
            `SELECT username FROM ${table} WHERE username IN ('ghost.locked', 'ghost.counting', 'known.one') ORDER BY username`,
          )
        ).map((r) => r.username);

      await prune(db);
      // ghost.locked's pair lock is in force; its ceiling row (5 of 100, no lock) goes
      expect(await rowsOf('auth_throttle')).to.deep.equal(['ghost.locked', 'known.one']);
      expect(await rowsOf('auth_throttle_username')).to.deep.equal(['known.one']);

      await live.backend.sql(
        "UPDATE auth_throttle SET locked_until = now() - interval '1 second' WHERE username = 'ghost.locked'",
      );
      await prune(db);
      expect(await rowsOf('auth_throttle')).to.deep.equal(['known.one']);
      expectStatus(await fail('ghost.locked', address), 401, 'a pruned name starts over');

      // the address goes once no failure of it is left in the window
      expect(
        await live.backend.sql('SELECT 1 FROM auth_throttle_address WHERE client_address = $1', [address]),
      ).to.have.length(1);
      await live.backend.sql(
        "UPDATE auth_throttle_address SET failed_at = ARRAY(SELECT f - interval '15 minutes' FROM unnest(failed_at) AS f) WHERE client_address = $1",
        [address],
      );
      const pruned = await prune(db);
      expect(pruned.addresses).to.be.at.least(1);
      expect(
        await live.backend.sql('SELECT 1 FROM auth_throttle_address WHERE client_address = $1', [address]),
      ).to.have.length(0);
      expect(await rowsOf('auth_throttle')).to.include('known.one');
    } finally {
      await db.close();
    }
  });
});
