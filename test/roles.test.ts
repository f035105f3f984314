// Least privilege (contract §8), on the real PostgreSQL: the migration runs as the owner
// role of db-admin-username / db-admin-password and grants the functions' role
// (db-credentials-username) SELECT, INSERT, UPDATE and DELETE on the tables, nothing else.
// The roles are made for the run (roles are cluster-wide: random names) and dropped after.
// Every other suite on PostgreSQL runs the same way (test/helpers/backends.ts, Backend).
import { expect } from 'chai';
import { accessSync, constants, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ConfigError, loadMigrationConfig, newFernetKey } from '../lib/config.js';
import { quoteIdent } from '../lib/db/grants.js';
import { Backend, adminQuery, makeSecretsDir, requireBackend } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import { PROJECT_ROOT, runToExit } from './helpers/process.js';
import { rememberSecret } from './helpers/secrets.js';
import type { RunningProcess } from './helpers/process.js';

const INSUFFICIENT_PRIVILEGE = '42501';

/** One query on `database` as `role`, over TCP (the test server trusts local connections). */
async function queryAs<R extends pg.QueryResultRow>(
  role: string,
  database: string,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: role, database });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function errorCodeOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
  return 'no error';
}

describe('least privilege: the migration command reads the owner role only from its own secret files', () => {
  let dir: string;

  beforeEach(() => {
    dir = makeSecretsDir();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const admin = (user: string | undefined, password: string | undefined): void => {
    if (user !== undefined) writeFileSync(path.join(dir, 'db-admin-username'), `${user}\n`);
    if (password !== undefined) writeFileSync(path.join(dir, 'db-admin-password'), `${password}\n`);
  };

  it("without db-admin-username / db-admin-password, the migration uses the functions' role (development)", () => {
    const config = loadMigrationConfig({ POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: dir });
    expect(config.functionsRole).to.equal(undefined);
    expect(config.database).to.deep.include({ kind: 'postgres' });
    expect((config.database as { connection: { user: string } }).connection.user).to.equal('postgres');
  });

  it("with them, it connects as the owner role and keeps the functions' role to grant it", () => {
    admin('cofrap_owner', 'owner-password');
    const config = loadMigrationConfig({ POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: dir });
    expect(config.functionsRole).to.equal('postgres');
    expect(config.database).to.deep.include({ kind: 'postgres' });
    expect((config.database as { connection: unknown }).connection).to.deep.include({
      user: 'cofrap_owner',
      password: 'owner-password',
      host: '127.0.0.1',
    });
  });

  it("with DATABASE_URL, the owner role replaces the URL's user and password", () => {
    admin('cofrap owner', 'p@ss/word');
    const config = loadMigrationConfig({
      DATABASE_URL: 'postgresql://cofrap_app:app-password@db.internal:5432/cofrap_db',
      SECRETS_DIR: dir,
    });
    expect(config.functionsRole).to.equal('cofrap_app');
    const url = new URL((config.database as { connection: { connectionString: string } }).connection.connectionString);
    expect([decodeURIComponent(url.username), decodeURIComponent(url.password), url.host, url.pathname]).to.deep.equal([
      'cofrap owner',
      'p@ss/word',
      'db.internal:5432',
      '/cofrap_db',
    ]);
    expect(() =>
      loadMigrationConfig({ DATABASE_URL: 'postgresql://db.internal/cofrap_db', SECRETS_DIR: dir }),
    ).to.throw(ConfigError, /DATABASE_URL names no user/);
  });

  it("the functions never read them: their configuration keeps the functions' role", async () => {
    admin('cofrap_owner', 'owner-password');
    const { loadConfig } = await import('../lib/config.js');
    const config = loadConfig({ POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: dir });
    expect((config.database as { connection: unknown }).connection).to.deep.include({ user: 'postgres' });
  });

  it("a password without a user, an empty user, or the functions' own role are configuration errors naming the file", () => {
    admin(undefined, 'owner-password');
    expect(() => loadMigrationConfig({ POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: dir })).to.throw(
      ConfigError,
      /db-admin-username is missing/,
    );
    admin('', undefined);
    expect(() => loadMigrationConfig({ POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: dir })).to.throw(
      ConfigError,
      /db-admin-username is empty/,
    );
    admin('postgres', undefined);
    expect(() => loadMigrationConfig({ POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: dir })).to.throw(
      ConfigError,
      /names the functions' own role/,
    );
  });
});

describe("least privilege on postgres: the functions' role reads and writes rows, and nothing else", function () {
  this.timeout(120_000);
  const backend = new Backend('postgres');
  let server: RunningProcess | undefined;
  const asApp = <R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> =>
    queryAs<R>(backend.functionsRole, backend.name, text, params);

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
    // Another schema of the same database, made by the superuser, with a row to steal.
    await adminQuery(
      backend.name,
      "CREATE SCHEMA other; CREATE TABLE other.secrets (value TEXT); INSERT INTO other.secrets VALUES ('not for the functions')",
    );
  });
  after(async () => {
    await server?.stop();
    await backend.dispose();
  });

  it("the migration ran as the owner role: it owns every table; the functions' role owns nothing and is no superuser", async () => {
    const owners = await adminQuery<{ tablename: string; tableowner: string }>(
      backend.name,
      "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    expect(owners.map((t) => t.tablename)).to.include.members(['schema_migrations', 'users']);
    for (const t of owners) expect(t.tableowner, t.tablename).to.equal(backend.ownerRole);
    const [role] = await adminQuery<{ rolsuper: boolean; rolcreatedb: boolean; rolcreaterole: boolean }>(
      'postgres',
      'SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = $1',
      [backend.functionsRole],
    );
    expect(role).to.deep.equal({ rolsuper: false, rolcreatedb: false, rolcreaterole: false });
  });

  it('SELECT, INSERT, UPDATE and DELETE on users', async () => {
    await asApp(
      "INSERT INTO users (username, username_skeleton, password_hash, provenance) VALUES ('rights.check', 'rights.check', 'x', 'self')",
    );
    expect(await asApp('SELECT username, status FROM users WHERE username = $1', ['rights.check'])).to.deep.equal([
      { username: 'rights.check', status: 'pending' },
    ]);
    await asApp("UPDATE users SET expired = TRUE WHERE username = 'rights.check'");
    expect(
      (await asApp<{ expired: boolean }>("SELECT expired FROM users WHERE username = 'rights.check'"))[0]?.expired,
    ).to.equal(true);
    await asApp("DELETE FROM users WHERE username = 'rights.check'");
    expect(await asApp("SELECT 1 FROM users WHERE username = 'rights.check'")).to.deep.equal([]);
  });

  it('no DDL: CREATE TABLE, DROP TABLE users, ALTER TABLE users (a column, the owner), CREATE INDEX, TRUNCATE, CREATE SCHEMA, a temporary table, passing on its rights', async () => {
    const refused = {
      'CREATE TABLE': await errorCodeOf(asApp('CREATE TABLE intruder (x INT)')),
      'CREATE TABLE public.': await errorCodeOf(asApp('CREATE TABLE public.intruder (x INT)')),
      'DROP TABLE users': await errorCodeOf(asApp('DROP TABLE users')),
      'ALTER TABLE users': await errorCodeOf(asApp('ALTER TABLE users ADD COLUMN intruder TEXT')),
      'ALTER TABLE users OWNER': await errorCodeOf(
        asApp(`ALTER TABLE users OWNER TO ${quoteIdent(backend.functionsRole)}`),
      ),
      'CREATE INDEX': await errorCodeOf(asApp('CREATE INDEX intruder ON users (mfa_secret)')),
      'TRUNCATE users': await errorCodeOf(asApp('TRUNCATE users')),
      'CREATE SCHEMA': await errorCodeOf(asApp('CREATE SCHEMA intruder')),
      'CREATE TEMP TABLE': await errorCodeOf(asApp('CREATE TEMP TABLE intruder (x INT)')),
    };
    for (const [what, code] of Object.entries(refused)) expect(code, what).to.equal(INSUFFICIENT_PRIVILEGE);
    // A GRANT without the grant option is only a warning in PostgreSQL: nothing is granted.
    await asApp('GRANT SELECT ON users TO PUBLIC');
    expect(
      await adminQuery(
        backend.name,
        "SELECT 1 FROM information_schema.role_table_grants WHERE table_name = 'users' AND grantee = 'PUBLIC'",
      ),
    ).to.deep.equal([]);
    expect(
      await adminQuery(
        backend.name,
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'intruder'",
      ),
    ).to.deep.equal([]);
  });

  it("no other schema: another schema's table cannot be read; schema_migrations can be read, not written", async () => {
    expect(await errorCodeOf(asApp('SELECT value FROM other.secrets'))).to.equal(INSUFFICIENT_PRIVILEGE);
    expect(await errorCodeOf(asApp("INSERT INTO other.secrets VALUES ('x')"))).to.equal(INSUFFICIENT_PRIVILEGE);
    expect((await asApp<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations'))[0]?.n).to.be.greaterThan(0);
    expect(await errorCodeOf(asApp("INSERT INTO schema_migrations (version, name) VALUES (999, 'intruder')"))).to.equal(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await errorCodeOf(asApp('DELETE FROM schema_migrations'))).to.equal(INSUFFICIENT_PRIVILEGE);
  });

  it('a table the owner adds later (with an identity sequence) is granted the same by default, and no more', async () => {
    await backend.sql('CREATE TABLE later_table (id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note TEXT)');
    await asApp("INSERT INTO later_table (note) VALUES ('granted by default')");
    expect(await asApp('SELECT id, note FROM later_table')).to.deep.equal([{ id: 1, note: 'granted by default' }]);
    expect(await errorCodeOf(asApp('DROP TABLE later_table'))).to.equal(INSUFFICIENT_PRIVILEGE);
    await backend.sql('DROP TABLE later_table');
  });

  it("migrating again is idempotent and re-applies the grants; a superuser as the functions' role is refused before any migration", async () => {
    const again = await runToExit('migrate', backend.env());
    expect(again.code, again.output).to.equal(0);
    expect(again.output).to.contain('schema up to date');
    expect(again.output).to.contain(`role ${backend.functionsRole}: SELECT, INSERT, UPDATE, DELETE on`);

    const dir = mkdtempSync(path.join(tmpdir(), 'cofrap-secrets-'));
    try {
      for (const file of ['encryption-key', 'db-admin-username', 'db-admin-password'])
        copyFileSync(path.join(backend.secretsDir, file), path.join(dir, file));
      writeFileSync(path.join(dir, 'db-credentials-username'), 'postgres\n');
      const refused = await runToExit('migrate', { ...backend.env(), SECRETS_DIR: dir });
      expect(refused.code).to.equal(1);
      expect(refused.output).to.contain("the functions' role postgres is a superuser");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the development server, connected as the functions' role only, serves a sign-up (generate-password 201)", async () => {
    server = await backend.start();
    const created = await postJson(`${server.url}/generate-password`, { username: 'least.privilege' });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const sessions = await adminQuery<{ usename: string }>(
      'postgres',
      "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND application_name = 'cofrap-credentials'",
      [backend.name],
    );
    expect(sessions.map((s) => s.usename)).to.deep.equal([backend.functionsRole]);
  });
});

describe("least privilege on postgres: moving a deployment whose functions' role owns the tables to two roles", function () {
  this.timeout(120_000);
  const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const database = `cofrap_test_upgrade_${suffix}`;
  const app = `cofrap_test_upgrade_${suffix}_app`;
  const owner = `cofrap_test_upgrade_${suffix}_owner`;
  let dir: string | undefined;
  let created = false;

  before(async function () {
    await requireBackend(this, 'postgres');
  });
  after(async () => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (!created) return;
    await adminQuery('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await adminQuery('postgres', `DROP ROLE IF EXISTS ${app}, ${owner}`);
  });

  it('refused with the REASSIGN OWNED line before any migration; after it, the grants apply and the role has no DDL left', async () => {
    // Today's single role: it owns the database, and the migration ran as it.
    created = true;
    await adminQuery('postgres', `CREATE ROLE ${app} LOGIN`);
    await adminQuery('postgres', `CREATE ROLE ${owner} LOGIN`);
    await adminQuery('postgres', `CREATE DATABASE ${database} OWNER ${app}`);
    dir = mkdtempSync(path.join(tmpdir(), 'cofrap-secrets-'));
    writeFileSync(path.join(dir, 'db-credentials-username'), `${app}\n`);
    writeFileSync(path.join(dir, 'encryption-key'), `${newFernetKey()}\n`);
    const env = { POSTGRES_HOST: '127.0.0.1', POSTGRES_DB: database, SECRETS_DIR: dir };
    const single = await runToExit('migrate', env);
    expect(single.code, single.output).to.equal(0);
    expect(single.output).to.not.contain('role ');

    // The migration Job now has the owner's secret: refused, and nothing changed.
    writeFileSync(path.join(dir, 'db-admin-username'), `${owner}\n`);
    writeFileSync(path.join(dir, 'db-admin-password'), '\n');
    const refused = await runToExit('migrate', env);
    expect(refused.code).to.equal(1);
    expect(refused.output).to.contain(`the functions' role ${app} owns database ${database}`);
    expect(refused.output).to.contain('table public.users');
    expect(refused.output).to.contain(`REASSIGN OWNED BY "${app}" TO "${owner}"`);

    // What the message says, then the migration again.
    await adminQuery(database, `REASSIGN OWNED BY ${app} TO ${owner}`);
    const moved = await runToExit('migrate', env);
    expect(moved.code, moved.output).to.equal(0);
    expect(moved.output).to.contain(`role ${app}: SELECT, INSERT, UPDATE, DELETE on`);
    expect(await errorCodeOf(queryAs(app, database, 'CREATE TABLE intruder (x INT)'))).to.equal(INSUFFICIENT_PRIVILEGE);
    expect(await errorCodeOf(queryAs(app, database, 'DROP TABLE users'))).to.equal(INSUFFICIENT_PRIVILEGE);
    expect(
      await queryAs(
        app,
        database,
        "INSERT INTO users (username, username_skeleton, password_hash, provenance) VALUES ('kept.working', 'kept.working', 'x', 'self') RETURNING username",
      ),
    ).to.deep.equal([{ username: 'kept.working' }]);
  });
});

describe("least privilege on postgres: the dev overlay's PostgreSQL makes the two roles the migration Job and the functions use", function () {
  this.timeout(120_000);
  const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const database = `cofrap_test_devinit_${suffix}`;
  const app = `cofrap_test_devinit_${suffix}_app`;
  const owner = `cofrap_test_devinit_${suffix}_owner`;
  const script = path.join(PROJECT_ROOT, 'knative/overlays/dev/postgres-init/create-roles.sh');
  let dir: string | undefined;
  let created = false;

  before(async function () {
    await requireBackend(this, 'postgres');
    const psql = (process.env.PATH ?? '').split(path.delimiter).some((d) => {
      try {
        accessSync(path.join(d, 'psql'), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!psql) {
      if (process.env.CI === 'true') throw new Error('psql is required under CI=true');
      console.log('    ! SKIPPED: psql is not on PATH; the dev init script was not run');
      this.skip();
    }
  });
  after(async () => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    if (!created) return;
    await adminQuery('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await adminQuery('postgres', `DROP ROLE IF EXISTS ${app}, ${owner}`);
  });

  it("postgres-init/create-roles.sh, as the image runs it on a new data directory; then the migration as the owner, the functions' role with DML only", async () => {
    // What the image has done before it runs the script: POSTGRES_DB, owned by its superuser.
    created = true;
    await adminQuery('postgres', `CREATE DATABASE ${database}`);
    dir = mkdtempSync(path.join(tmpdir(), 'cofrap-secrets-'));
    const ownerPassword = `o'wner ${randomBytes(6).toString('base64url')}`;
    const appPassword = randomBytes(12).toString('base64url');
    rememberSecret(ownerPassword, 'database password');
    rememberSecret(appPassword, 'database password');
    writeFileSync(path.join(dir, 'db-admin-username'), owner);
    writeFileSync(path.join(dir, 'db-admin-password'), ownerPassword);
    writeFileSync(path.join(dir, 'db-credentials-username'), app);
    writeFileSync(path.join(dir, 'db-credentials-password'), appPassword);
    writeFileSync(path.join(dir, 'encryption-key'), `${newFernetKey()}\n`);

    const run = spawnSync('sh', [script], {
      env: {
        PATH: process.env.PATH,
        POSTGRES_USER: 'postgres',
        POSTGRES_DB: database,
        SECRETS_DIR: dir,
        PGHOST: '127.0.0.1',
      },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).to.equal(0);
    const roles = await adminQuery<{
      rolname: string;
      rolsuper: boolean;
      rolcreatedb: boolean;
      rolcreaterole: boolean;
      rolcanlogin: boolean;
      has_password: boolean;
    }>(
      'postgres',
      'SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolpassword IS NOT NULL AS has_password FROM pg_authid WHERE rolname IN ($1, $2) ORDER BY rolname',
      [app, owner],
    );
    expect(roles).to.deep.equal(
      [app, owner].sort().map((rolname) => ({
        rolname,
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolcanlogin: true,
        has_password: true,
      })),
    );
    const [owners] = await adminQuery<{ database: string; schema: string }>(
      database,
      "SELECT pg_get_userbyid(d.datdba) AS database, pg_get_userbyid(n.nspowner) AS schema FROM pg_database d, pg_namespace n WHERE d.datname = current_database() AND n.nspname = 'public'",
    );
    expect(owners).to.deep.equal({ database: owner, schema: owner });

    const migrated = await runToExit('migrate', {
      POSTGRES_HOST: '127.0.0.1',
      POSTGRES_DB: database,
      SECRETS_DIR: dir,
    });
    expect(migrated.code, migrated.output).to.equal(0);
    expect(migrated.output).to.contain(`role ${app}: SELECT, INSERT, UPDATE, DELETE on`);
    expect(
      await queryAs(
        app,
        database,
        "INSERT INTO users (username, username_skeleton, password_hash, provenance) VALUES ('dev.overlay', 'dev.overlay', 'x', 'self') RETURNING username",
      ),
    ).to.deep.equal([{ username: 'dev.overlay' }]);
    expect(await errorCodeOf(queryAs(app, database, 'CREATE TABLE intruder (x INT)'))).to.equal(INSUFFICIENT_PRIVILEGE);
    expect(await errorCodeOf(queryAs(app, database, 'DROP TABLE users'))).to.equal(INSUFFICIENT_PRIVILEGE);
  });
});
