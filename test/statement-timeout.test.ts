// The bound on one statement (lib/db/statement-timeout.ts) is in force on the functions'
// connections, directly and through a transaction-mode pooler (.ci/run's second pass sets
// TEST_PGBOUNCER_URL): a statement that sleeps past it is cut by the server (SQLSTATE
// 57014) and the request answered 503, both inside a transaction the code opens (SET
// LOCAL) and for a single statement outside one (the database's default, set by the
// migration). The sleep is the test's own: a trigger its owner role adds to the scratch
// database, which fires for one username only. If the bound were not in force the server
// would sleep on and the client's own later wait would end the request with another error
// (500), so each test can fail. The embedded PGlite enforces no statement timeout: it is
// only checked to be ready without one (test/functions.test.ts, on PGlite).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Backend, THROUGH_POOLER, adminQuery, makeSecretsDir, requireBackend, useServer } from './helpers/backends.js';
import { postJson, request } from './helpers/http.js';
import { runToExit } from './helpers/process.js';
import { beginWithTimeout, parseTimeout } from '../lib/db/statement-timeout.js';

/** Short, so the suite is quick; far above what any statement of a sign-in takes. */
const BOUND_MS = 1500;
/** Far beyond the bound and the client's wait: only the server's cut ends it in time. */
const SLEEP_SECONDS = 120;

/** A trigger that sleeps on writes to `table` for the row of `username` only. */
async function sleepOn(backend: Backend, table: string, username: string): Promise<void> {
  const name = `sleep_on_${table}`;
  await backend.sql(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(${SLEEP_SECONDS}); RETURN NEW; END $$`);
  await backend.sql(`CREATE TRIGGER ${name} BEFORE INSERT OR UPDATE ON ${table}
    FOR EACH ROW WHEN (NEW.username = '${username}') EXECUTE FUNCTION ${name}()`);
}

const via = THROUGH_POOLER ? 'through PgBouncer (transaction mode)' : 'directly';

describe(`statement timeout on postgres, ${via}`, function () {
  this.timeout(120_000);
  const live = useServer('postgres', { PG_STATEMENT_TIMEOUT_MS: String(BOUND_MS) });
  const wrong = (username: string): Record<string, string> => ({
    username,
    password: 'not-the-password',
    totp: '000000',
  });
  const cutStatements = (): unknown[] =>
    live.process.output
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.event === 'database_unavailable' && entry.error_code === '57014');

  before(async () => {
    await sleepOn(live.backend, 'auth_throttle_username', 'sleepy.in.transaction');
    await sleepOn(live.backend, 'audit_log', 'sleepy.alone');
  });

  it("the functions' sessions start with the bound (readiness checks it) and a sign-in without a sleep is answered as usual", async () => {
    expect((await request(`${live.url}/readyz`)).status).to.equal(200);
    expect(await postJson(`${live.url}/authenticate`, wrong('awake')).then((a) => a.status)).to.equal(401);
    expect(cutStatements()).to.deep.equal([]);
  });

  it("a statement of a transaction (the sign-in's throttle claim) that sleeps past the bound is cut: 503", async () => {
    const answer = await postJson(`${live.url}/authenticate`, wrong('sleepy.in.transaction'));
    expect(answer.status, answer.text).to.equal(503);
    expect(answer.body.code).to.equal('unavailable');
    expect(cutStatements()).to.have.length(1);
    // Rolled back: the claim left no row.
    expect(
      await live.backend.sql("SELECT 1 FROM auth_throttle_username WHERE username = 'sleepy.in.transaction'"),
    ).to.deep.equal([]);
  });

  it("a single statement outside a transaction (the refusal's audit row) that sleeps past the bound is cut: 503", async () => {
    const answer = await postJson(`${live.url}/authenticate`, wrong('sleepy.alone'));
    expect(answer.status, answer.text).to.equal(503);
    expect(cutStatements()).to.have.length(2);
    expect(
      await live.backend.sql("SELECT 1 FROM audit_log WHERE username = 'sleepy.alone' AND type = 'signin.failed'"),
    ).to.deep.equal([]);
    // The connection that was cut serves the next request.
    expect(await postJson(`${live.url}/authenticate`, wrong('awake')).then((a) => a.status)).to.equal(401);
  });
});

describe(`statement timeout on postgres, ${via}: a database without the default is not ready`, function () {
  this.timeout(120_000);
  const backend = new Backend('postgres');
  after(() => backend.dispose());

  it("/readyz answers 503 and names statement_timeout when the database's default was taken away", async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
    // What a database migrated by an earlier version, or reset by hand, looks like.
    await backend.sql(`ALTER DATABASE ${backend.name} RESET statement_timeout`);
    const server = await backend.start();
    try {
      const answer = await request(`${server.url}/readyz`);
      expect(answer.status, answer.text).to.equal(503);
      expect(String(answer.body.error)).to.contain('statement_timeout is off');
    } finally {
      await server.stop();
    }
  });
});

describe("statement timeout: the migration sets the database's default", function () {
  this.timeout(120_000);
  const name = `cofrap_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const secrets = makeSecretsDir();
  let created = false;
  after(async () => {
    rmSync(secrets, { recursive: true, force: true });
    if (!created) return;
    await adminQuery('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await adminQuery('postgres', `DROP ROLE IF EXISTS ${name}`);
  });

  it("as a role that does not own the database: refused with the superuser's command, and accepted once a superuser has set it", async function () {
    await requireBackend(this, 'postgres');
    // The database is the superuser's; the role may connect and create tables, nothing more.
    await adminQuery('postgres', `CREATE ROLE ${name} LOGIN`);
    created = true;
    await adminQuery('postgres', `CREATE DATABASE ${name}`);
    await adminQuery(
      name,
      `GRANT CONNECT ON DATABASE ${name} TO ${name}; GRANT CREATE, USAGE ON SCHEMA public TO ${name}`,
    );
    writeFileSync(path.join(secrets, 'db-credentials-username'), `${name}\n`);
    const env = { POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: '5432', POSTGRES_DB: name, SECRETS_DIR: secrets };
    const refused = await runToExit('migrate', env);
    expect(refused.code, refused.output).to.equal(1);
    expect(refused.output).to.contain(`as a superuser: ALTER DATABASE "${name}" SET statement_timeout = 10000`);
    expect(await adminQuery(name, 'SELECT 1 FROM pg_tables WHERE tablename = $1', ['schema_migrations'])).to.deep.equal(
      [],
    );

    await adminQuery(name, `ALTER DATABASE ${name} SET statement_timeout = '5s'`);
    const accepted = await runToExit('migrate', env);
    expect(accepted.code, accepted.output).to.equal(0);
    expect(accepted.output).to.contain('applied migrations');
  });
});

describe('unit: statement_timeout values', () => {
  it('reads the values ALTER … SET stores, in ms, and nothing else', () => {
    expect(['10000', '10s', '1min', '250ms', "'5s'", '0'].map(parseTimeout)).to.deep.equal([
      10_000, 10_000, 60_000, 250, 5000, 0,
    ]);
    expect(['', 'ten', '10 parsecs', '-1'].map(parseTimeout)).to.deep.equal([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('opens a transaction with a whole, positive number of milliseconds only', () => {
    expect(beginWithTimeout(1500)).to.equal('BEGIN; SET LOCAL statement_timeout = 1500');
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => beginWithTimeout(bad), String(bad)).to.throw(/positive whole number/);
  });
});
