// The two databases every HTTP suite runs on: the embedded PGlite (a scratch data
// directory) and the PostgreSQL server on 127.0.0.1:5432 (a scratch database created and
// dropped per run). Without a server the real-database suites are skipped locally with a
// visible message; under CI=true they fail instead.
//
// With TEST_PGBOUNCER_URL (postgresql://host:port of a PgBouncer in transaction mode in
// front of that server; .ci/run starts one for its second pass over the database suites)
// the servers the suites start connect through the pooler, as the functions do on
// Knative, while the migration and the tests' own SQL connect directly, as the migration
// Job does; only the PostgreSQL backend runs then.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadMigrationConfig, newFernetKey } from '../../lib/config.js';
import { quoteIdent } from '../../lib/db/grants.js';
import { runMigrationJob } from '../../lib/db/migration-job.js';
import { createLogger } from '../../lib/log.js';
import { openDatabase } from '../../lib/runtime.js';
import { PROJECT_ROOT, runToExit, startProcess } from './process.js';
import type { RunningProcess } from './process.js';
import { rememberOutput, rememberSecret } from './secrets.js';
import { BROKER } from './oidc.js';

export type BackendKind = 'pglite' | 'postgres';

const ADMIN_URL = process.env.TEST_POSTGRES_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const POOLER_URL =
  process.env.TEST_PGBOUNCER_URL === undefined || process.env.TEST_PGBOUNCER_URL === ''
    ? undefined
    : new URL(process.env.TEST_PGBOUNCER_URL);
/** The servers reach PostgreSQL through the pooler of TEST_PGBOUNCER_URL. */
export const THROUGH_POOLER = POOLER_URL !== undefined;
export const BACKENDS: BackendKind[] = THROUGH_POOLER ? ['postgres'] : ['pglite', 'postgres'];
/**
 * The parts of a both-databases suite that run on PostgreSQL only: registered there, and
 * not at all on PGlite. On PGlite a suite keeps what the embedded mode of `npm start` must
 * show working (docs/testing.md, "The two backends"); the rest is SQL that is the same on
 * both, checked on the production database.
 */
export function onPostgresOnly(kind: BackendKind): {
  describe: (title: string, tests: () => void) => void;
  it: (title: string, test: Mocha.AsyncFunc) => void;
} {
  return {
    describe: (title, tests) => {
      if (kind === 'postgres') describe(title, tests);
    },
    it: (title, test) => {
      if (kind === 'postgres') it(title, test);
    },
  };
}
/** Where the servers connect: the pooler when there is one, else the server itself. */
const SERVED_HOST = POOLER_URL?.hostname ?? '127.0.0.1';
const SERVED_PORT = POOLER_URL?.port === undefined || POOLER_URL.port === '' ? '5432' : POOLER_URL.port;

export interface SeedFixture {
  fernet_key: string;
  rows: Array<{
    username: string;
    password: string;
    password_hash: string;
    totp_secret: string | null;
    mfa_secret: string | null;
    expired: boolean;
  }>;
}

export function seedFixture(): SeedFixture {
  const fixture = JSON.parse(
    readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/seed-rows.json'), 'utf8'),
  ) as SeedFixture;
  rememberSecret(fixture.fernet_key, 'fernet key');
  for (const row of fixture.rows) {
    rememberSecret(row.password, 'password');
    rememberSecret(row.totp_secret, 'totp secret');
  }
  return fixture;
}

/**
 * A secrets directory as the seed lays it out; the Python-made test key is the second key.
 * The database password is a random one: the test server trusts local connections and
 * never asks for it, but the service reads it, so the run's log check can look for it.
 */
export function makeSecretsDir(keys: string[] = [newFernetKey(), seedFixture().fernet_key]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cofrap-secrets-'));
  const databasePassword = randomBytes(12).toString('base64url');
  for (const key of keys) rememberSecret(key, 'fernet key');
  rememberSecret(databasePassword, 'database password');
  writeFileSync(path.join(dir, 'db-credentials-username'), 'postgres\n');
  writeFileSync(path.join(dir, 'db-credentials-password'), `${databasePassword}\n`);
  writeFileSync(path.join(dir, 'encryption-key'), keys.join('\n') + '\n');
  return dir;
}

let postgresAnswer: Promise<boolean> | undefined;
let poolerAnswer: Promise<boolean> | undefined;

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function postgresAvailable(): Promise<boolean> {
  postgresAnswer ??= answers(ADMIN_URL);
  return postgresAnswer;
}

/** Call in a before() hook: skips (locally) or fails (CI) when the server is not there. */
export async function requireBackend(context: Mocha.Context, kind: BackendKind): Promise<void> {
  if (kind === 'postgres' && POOLER_URL !== undefined) {
    // Asked for by name: a pooler that does not answer fails the run, locally too.
    const url = new URL(ADMIN_URL);
    url.host = POOLER_URL.host;
    poolerAnswer ??= answers(url.toString());
    if (!(await poolerAnswer)) throw new Error(`TEST_PGBOUNCER_URL is set but no pooler answers at ${POOLER_URL.host}`);
  }
  if (kind !== 'postgres' || (await postgresAvailable())) return;
  if (process.env.CI === 'true')
    throw new Error(`PostgreSQL is required under CI=true but does not answer at ${ADMIN_URL}`);
  console.log(`    ! SKIPPED: no PostgreSQL server answers at ${ADMIN_URL}; the real-database tests did not run`);
  context.skip();
}

/**
 * SQL on `database` as the server's superuser, or as `role` (SET ROLE) when given: what a
 * test needs beyond the database owner (pg_terminate_backend, other roles' sessions).
 */
export async function adminQuery<R extends pg.QueryResultRow>(
  database: string,
  text: string,
  params: unknown[] = [],
  role?: string,
): Promise<R[]> {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    if (role !== undefined) await client.query(`SET ROLE ${quoteIdent(role)}`);
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * PGlite data directories to copy, one initialised and empty, one migrated: PGlite's
 * initdb takes some 5 s of one core per new directory (the migrations a little more), a
 * copy a tenth of a second (its server then starts as on any existing directory). Each is
 * made once per PGlite version (and migration set), under the system's temporary
 * directory: the empty one by PGlite itself, the migrated one by the migrate command the
 * tests run anyway. A process that finds one made (by an earlier run, or by a parallel
 * mocha worker that renamed its copy in first) uses that one.
 */
const pgliteTemplates = new Map<'empty' | 'migrated', Promise<string>>();

function pgliteTemplate(kind: 'empty' | 'migrated'): Promise<string> {
  let made = pgliteTemplates.get(kind);
  if (made === undefined) {
    made = makePgliteTemplate(kind);
    pgliteTemplates.set(kind, made);
  }
  return made;
}

async function makePgliteTemplate(kind: 'empty' | 'migrated'): Promise<string> {
  const hash = createHash('sha256').update(kind);
  hash.update(readFileSync(path.join(PROJECT_ROOT, 'node_modules/@electric-sql/pglite/package.json')));
  const migrations = path.join(PROJECT_ROOT, 'dist/lib/db/migrations');
  if (kind === 'migrated')
    for (const file of readdirSync(migrations).sort()) {
      if (!/\.(sql|js)$/.test(file)) continue;
      hash.update(file).update(readFileSync(path.join(migrations, file)));
    }
  const template = path.join(tmpdir(), `cofrap-pglite-template-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(path.join(template, 'pgdata'))) return template;
  const making = mkdtempSync(`${template}-making-`);
  const secretsDir = makeSecretsDir();
  try {
    if (kind === 'empty') {
      // Loaded here only: most suites never make a template.
      const { openPGlite } = await import('../../lib/db/embedded.js');
      const db = await openPGlite(making);
      await db.close();
    } else {
      const result = await runToExit('migrate', { PGLITE_DATA_DIR: making, SECRETS_DIR: secretsDir });
      if (result.code !== 0) throw new Error(`migrate (PGlite template) failed:\n${result.output}`);
      rmSync(path.join(making, 'cofrap.pid'), { force: true });
    }
    try {
      renameSync(making, template);
    } catch (error) {
      // Another process made it first: theirs is the same.
      if (!existsSync(path.join(template, 'pgdata'))) throw error;
    }
  } finally {
    rmSync(making, { recursive: true, force: true });
    rmSync(secretsDir, { recursive: true, force: true });
  }
  return template;
}

/**
 * One scratch database (or PGlite directory) and the environment that points a server at it.
 *
 * On PostgreSQL it runs as production does (contract §8): two roles made for the run, the
 * owner of the database, which the migration connects as (db-admin-username), and the
 * functions' role (db-credentials-username), which the migration grants SELECT, INSERT,
 * UPDATE and DELETE on the tables and nothing else. The servers read only the functions'
 * files, so every suite on PostgreSQL runs with that DML-only role. The test's own SQL
 * (`sql`) acts as the owner, so what it creates the migration can change; SQL that needs
 * the superuser goes through `adminQuery(backend.name, …)`.
 */
export class Backend {
  readonly secretsDir = makeSecretsDir();
  readonly name: string;
  /** The functions' role (PostgreSQL): DML on the tables only. */
  readonly functionsRole: string;
  /** The owner role (PostgreSQL): owns the database; the migration runs as it. */
  readonly ownerRole: string;
  private readonly dataDir: string | undefined;
  private created = false;
  private rolesCreated = false;

  constructor(readonly kind: BackendKind) {
    this.name = `cofrap_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    this.functionsRole = `${this.name}_app`;
    this.ownerRole = `${this.name}_owner`;
    this.dataDir = kind === 'pglite' ? mkdtempSync(path.join(tmpdir(), 'cofrap-pglite-test-')) : undefined;
    if (kind === 'postgres') {
      const ownerPassword = randomBytes(12).toString('base64url');
      rememberSecret(ownerPassword, 'database password');
      writeFileSync(path.join(this.secretsDir, 'db-credentials-username'), `${this.functionsRole}\n`);
      writeFileSync(path.join(this.secretsDir, 'db-admin-username'), `${this.ownerRole}\n`);
      writeFileSync(path.join(this.secretsDir, 'db-admin-password'), `${ownerPassword}\n`);
    }
  }

  /**
   * On PostgreSQL the server trusts the run's broker issuer (BROKER) for employee-events,
   * as it must outside the embedded mode (contract §7); PGlite runs as `npm start` does,
   * without sender checks. `extra` wins over both.
   */
  env(extra: Record<string, string> = {}): Record<string, string> {
    // A generous queue bound: the suites send bursts of sign-ins (races, lockouts) whose
    // answers must not depend on how fast this machine's cores hash at the moment, nor on
    // how many there are. test/overload.test.ts sets its own bound and checks the shedding.
    const common = { SECRETS_DIR: this.secretsDir, BCRYPT_COST: '10', BCRYPT_QUEUE_SECONDS: '120' };
    if (this.kind === 'pglite') return { PGLITE_DATA_DIR: this.dataDir as string, ...common, ...extra };
    return {
      POSTGRES_HOST: SERVED_HOST,
      POSTGRES_PORT: SERVED_PORT,
      POSTGRES_DB: this.name,
      ...common,
      ...BROKER.env(),
      ...extra,
    };
  }

  /** The superuser's connection URL, for a test's own client. */
  get databaseUrl(): string {
    return `postgresql://postgres@127.0.0.1:5432/${this.name}`;
  }

  /**
   * Creates the two roles and the scratch database, owned by the owner role, that only the
   * functions' role may connect to besides it; then runs `npm run migrate`'s script on it,
   * with `env` added to its configuration. On PGlite: a copy of a migrated directory, or
   * with `migrate: false` of an initialised empty one (pgliteTemplate), which the server's
   * start or the test then migrates.
   */
  async prepare(options: { migrate?: boolean; env?: Record<string, string> } = {}): Promise<void> {
    if (this.kind === 'pglite') {
      mkdirSync(this.dataDir as string, { recursive: true });
      const pgdata = path.join(this.dataDir as string, 'pgdata');
      // cp(1), not fs.cpSync: the directory's 3 000 files took it 0.5 s of CPU, cp 0.2 s.
      if (!existsSync(pgdata))
        execFileSync('cp', [
          '-R',
          path.join(await pgliteTemplate(options.migrate === false ? 'empty' : 'migrated'), 'pgdata'),
          pgdata,
        ]);
      return;
    }
    if (!this.rolesCreated) {
      await adminQuery('postgres', `CREATE ROLE ${quoteIdent(this.ownerRole)} LOGIN`);
      this.rolesCreated = true;
      await adminQuery('postgres', `CREATE ROLE ${quoteIdent(this.functionsRole)} LOGIN`);
    }
    if (!this.created) {
      await adminQuery('postgres', `CREATE DATABASE ${this.name} OWNER ${quoteIdent(this.ownerRole)}`);
      this.created = true;
      await adminQuery(
        this.name,
        `REVOKE ALL ON DATABASE ${this.name} FROM PUBLIC; GRANT CONNECT ON DATABASE ${this.name} TO ${quoteIdent(this.functionsRole)}`,
      );
    }
    if (options.migrate !== false) {
      // What the migration Job does (lib/db/migration-job.ts), in this process: the suites
      // prepare some forty databases, and a process per migration cost each ~0.2 s of CPU.
      // The command itself is run by the suites that test it (migrations, operations,
      // roles, statement-timeout). Directly, as the Job connects (its session advisory
      // lock needs a session); its log lines go to the run's secret check.
      const config = loadMigrationConfig(
        this.env({ ...options.env, POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: '5432' }),
      );
      const log = createLogger({ command: 'migrate' }, (line) => rememberOutput(`migrate of ${this.name}`, line));
      const db = await openDatabase(config, log);
      try {
        await runMigrationJob(db, config, log, () => undefined);
      } catch (error) {
        throw new Error(`migrate failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      } finally {
        await db.close();
      }
    }
  }

  /**
   * SQL on the scratch database as its owner role, on one session kept for the suite: a
   * connection per statement cost PostgreSQL and the test ~17 ms of CPU, and the suites
   * send some eight hundred. Each statement commits on its own, as before; a session lost
   * (the server restarted, the database dropped) is opened again for the next statement.
   */
  async sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    if (this.kind !== 'postgres') throw new Error('direct SQL is only available on the PostgreSQL backend');
    const session = await this.ownerSession();
    return (await session.query<R>(text, params)).rows;
  }

  private ownerSessionOpening: Promise<pg.Client> | undefined;

  private ownerSession(): Promise<pg.Client> {
    if (this.ownerSessionOpening !== undefined) return this.ownerSessionOpening;
    const client = new pg.Client({ connectionString: this.databaseUrl });
    const opening = client.connect().then(async () => {
      await client.query(`SET ROLE ${quoteIdent(this.ownerRole)}`);
      return client;
    });
    this.ownerSessionOpening = opening;
    // A session the server ends emits 'error' and 'end': the next statement opens another.
    const forget = (): void => {
      if (this.ownerSessionOpening === opening) this.ownerSessionOpening = undefined;
    };
    client.on('error', forget);
    client.on('end', forget);
    opening.catch(() => {
      forget();
      void client.end().catch(() => undefined);
    });
    return opening;
  }

  start(extra: Record<string, string> = {}, script: 'dev-server' | 'serve' = 'dev-server'): Promise<RunningProcess> {
    return startProcess({ script, env: this.env(extra) });
  }

  async dispose(): Promise<void> {
    const session = this.ownerSessionOpening;
    this.ownerSessionOpening = undefined;
    await session?.then((client) => client.end()).catch(() => undefined);
    rmSync(this.secretsDir, { recursive: true, force: true });
    if (this.dataDir !== undefined) rmSync(this.dataDir, { recursive: true, force: true });
    if (this.created) await adminQuery('postgres', `DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
    if (this.rolesCreated)
      await adminQuery(
        'postgres',
        `DROP ROLE IF EXISTS ${quoteIdent(this.functionsRole)}, ${quoteIdent(this.ownerRole)}`,
      );
  }
}

export interface LiveServer {
  readonly backend: Backend;
  readonly process: RunningProcess;
  readonly url: string;
}

/**
 * Registers the hooks of a suite that runs the development server on a scratch database of
 * `kind`, with `env` added to its configuration (or what `env()` returns when the server
 * starts). Read `url` inside tests and hooks.
 */
export function useServer(
  kind: BackendKind,
  env: Record<string, string> | (() => Record<string, string>) = {},
): LiveServer {
  const backend = new Backend(kind);
  let running: RunningProcess | undefined;
  before(async function () {
    await requireBackend(this, kind);
    // A function is read here, after the suite's earlier hooks (e.g. one that starts an issuer).
    const served = typeof env === 'function' ? env() : env;
    // The migration makes the suite's statement bound the database's default, as the Job does.
    const bound = served.PG_STATEMENT_TIMEOUT_MS;
    await backend.prepare(bound === undefined ? {} : { env: { PG_STATEMENT_TIMEOUT_MS: bound } });
    running = await backend.start(served);
  });
  after(async () => {
    await running?.stop();
    await backend.dispose();
  });
  return {
    backend,
    get process(): RunningProcess {
      if (running === undefined) throw new Error('the server is not running');
      return running;
    },
    get url(): string {
      return this.process.url;
    },
  };
}
