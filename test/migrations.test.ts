// The migration runner: SQL scripts and compiled TypeScript modules found on disk, applied
// in version order whatever their kind, each in one transaction, recorded once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Backend, adminQuery, requireBackend } from './helpers/backends.js';
import { Database, createPool } from '../lib/db/database.js';
import { loadMigrations, migrate } from '../lib/db/migrate.js';
import { createLogger } from '../lib/log.js';

describe('unit: migrations on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cofrap-migrations-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the .sql scripts and the compiled .js modules in version order, nothing else', () => {
    for (const file of [
      '003_three.sql',
      '001_one.sql',
      '002_two.js',
      '002_two.js.map',
      '004_four.d.ts',
      '004_four.ts',
      'README.md',
      '5_five.sql',
    ])
      writeFileSync(path.join(dir, file), '');
    expect(loadMigrations(dir).map((m) => [m.version, m.name, m.kind])).to.deep.equal([
      [1, 'one', 'sql'],
      [2, 'two', 'module'],
      [3, 'three', 'sql'],
    ]);
  });

  it('refuses two migrations of one version', () => {
    for (const file of ['004_staged_credentials.sql', '004_usernames.js']) writeFileSync(path.join(dir, file), '');
    expect(() => loadMigrations(dir)).to.throw('two migrations have version 4');
  });
});

describe('migrations in TypeScript beside SQL, on postgres', function () {
  const backend = new Backend('postgres');
  let dir: string;
  let db: Database | undefined;
  const lines: string[] = [];
  const log = createLogger({}, (line) => lines.push(line));

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare({ migrate: false });
    dir = mkdtempSync(path.join(tmpdir(), 'cofrap-migrations-'));
    // The compiled migrations are ES modules, as dist/ is ("type": "module").
    writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
    writeFileSync(
      path.join(dir, '001_trail.sql'),
      'CREATE TABLE trail (step INTEGER PRIMARY KEY);\nINSERT INTO trail VALUES (1);\n',
    );
    writeFileSync(
      path.join(dir, '002_module.js'),
      [
        'export async function up(db, log) {',
        "  const rows = await db.query('SELECT step FROM trail ORDER BY step');",
        "  await db.query('INSERT INTO trail VALUES ($1)', [rows.length === 1 ? 2 : -2]);",
        "  log.info('module_migration_ran', { before: rows.length });",
        '}',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, '002_module.js.map'), '{}');
    writeFileSync(path.join(dir, '003_after.sql'), 'INSERT INTO trail VALUES (3);\n');
    db = new Database(createPool({ connectionString: backend.databaseUrl, max: 2 }, log));
  });
  after(async () => {
    await db?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await backend.dispose();
  });

  it('applies them in version order, each recorded once', async () => {
    expect(await migrate(db as Database, log, dir)).to.deep.equal([1, 2, 3]);
    expect(
      (await adminQuery<{ step: number }>(backend.name, 'SELECT step FROM trail ORDER BY step')).map((r) => r.step),
    ).to.deep.equal([1, 2, 3]);
    expect(
      lines.some((line) => line.includes('"event":"module_migration_ran"') && line.includes('"migration":2')),
    ).to.equal(true);
    expect(await migrate(db as Database, log, dir)).to.deep.equal([]);
    expect(
      (
        await adminQuery<{ version: number; name: string }>(
          backend.name,
          'SELECT version, name FROM schema_migrations ORDER BY version',
        )
      ).map((r) => `${r.version} ${r.name}`),
    ).to.deep.equal(['1 trail', '2 module', '3 after']);
  });

  it('rolls a failing module migration back whole, and records nothing of it', async () => {
    writeFileSync(
      path.join(dir, '004_fails.js'),
      "export async function up(db) {\n  await db.query('INSERT INTO trail VALUES (4)');\n  throw new Error('stop here');\n}\n",
    );
    let failure: unknown;
    await migrate(db as Database, log, dir).catch((error: unknown) => (failure = error));
    expect(String(failure)).to.contain('stop here');
    expect(
      (await adminQuery<{ step: number }>(backend.name, 'SELECT step FROM trail ORDER BY step')).map((r) => r.step),
    ).to.deep.equal([1, 2, 3]);
    expect(
      (await adminQuery<{ version: number }>(backend.name, 'SELECT max(version) AS version FROM schema_migrations'))[0]
        ?.version,
    ).to.equal(3);
  });

  it('refuses a module without up()', async () => {
    rmSync(path.join(dir, '004_fails.js'));
    writeFileSync(path.join(dir, '004_empty.js'), 'export const nothing = 1;\n');
    let failure: unknown;
    await migrate(db as Database, log, dir).catch((error: unknown) => (failure = error));
    expect(String(failure)).to.contain('004_empty.js exports no up(db, log) function');
  });
});
