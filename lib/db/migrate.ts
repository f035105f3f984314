// Versioned migrations in lib/db/migrations: NNN_name.sql, or NNN_name.ts (compiled to .js
// beside the SQL in dist/) exporting `up(db, log)` for a change that SQL cannot say in the
// service's own terms (005 re-normalises usernames with lib/usernames.ts). Each is applied
// once, in version order whatever its kind, in its own transaction, and recorded in
// schema_migrations. A session advisory lock serialises replicas that start together: the
// second waits, then finds nothing left to do. A session lock needs a session of its own:
// the migration connects to PostgreSQL directly (the migration Job does, not through the
// functions' transaction-mode pooler, which could hand the lock and its unlock to two
// different server connections; docs/capacity.md).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Database, Queryable } from './database.js';
import type { Logger } from '../log.js';

export interface Migration {
  version: number;
  name: string;
  /** 'sql': a script run as it is; 'module': compiled TypeScript exporting up(). */
  kind: 'sql' | 'module';
  file: string;
}

/** What a TypeScript migration exports. It runs inside the migration's transaction. */
export interface MigrationModule {
  up(db: Queryable, log: Logger): Promise<void>;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
// An arbitrary constant shared by every process of this service ("COFRAP" in ASCII).
const MIGRATION_LOCK_KEY = 0x434f46524150;
// Only these: a .sql script, or the .js that tsc made of a .ts migration. Not the .js.map
// or .d.ts beside it, nor a .ts source if one were copied to dist.
const MIGRATION_FILE = /^(\d{3})_([a-z0-9_]+)\.(sql|js)$/;

/** The migrations of a directory in version order; two files of one version are an error. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const byVersion = new Map<number, Migration>();
  for (const file of readdirSync(dir)) {
    const match = MIGRATION_FILE.exec(file);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    const version = Number(match[1]);
    const other = byVersion.get(version);
    // e.g. two branches that each took the next number: refuse rather than pick one
    if (other !== undefined)
      throw new Error(`two migrations have version ${version}: ${path.basename(other.file)} and ${file}`);
    byVersion.set(version, {
      version,
      name: match[2],
      kind: match[3] === 'sql' ? 'sql' : 'module',
      file: path.join(dir, file),
    });
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/** The work of one migration, read (or imported) before its transaction begins. */
async function prepare(migration: Migration): Promise<(db: Queryable, log: Logger) => Promise<void>> {
  if (migration.kind === 'sql') {
    const sql = readFileSync(migration.file, 'utf8');
    return async (db) => {
      await db.query(sql);
    };
  }
  const module = (await import(pathToFileURL(migration.file).href)) as Partial<MigrationModule>;
  const up = module.up;
  if (typeof up !== 'function')
    throw new Error(`migration ${path.basename(migration.file)} exports no up(db, log) function`);
  return (db, log) => up(db, log);
}

export const LATEST_SCHEMA_VERSION = Math.max(...loadMigrations().map((m) => m.version));

export async function migrate(db: Database, log: Logger, dir: string = MIGRATIONS_DIR): Promise<number[]> {
  const migrations = loadMigrations(dir);
  return db.withClient(async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    // A migration may rightly outlast the functions' bound on a statement (005 rewrites
    // every username): no bound on this direct session, until it is handed back.
    await client.query('SET statement_timeout = 0');
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).map((row) => row.version),
      );
      const applied: number[] = [];
      for (const migration of migrations.filter((m) => !done.has(m.version))) {
        const apply = await prepare(migration);
        await client.query('BEGIN');
        try {
          await apply(client, log.child({ migration: migration.version }));
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        applied.push(migration.version);
        log.info('migration_applied', { version: migration.version, name: migration.name });
      }
      return applied;
    } finally {
      await client.query('RESET statement_timeout').catch(() => undefined);
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  });
}

/** The schema version the database is at, or undefined when it has never been migrated. */
export async function schemaVersion(db: Database): Promise<number | undefined> {
  // With a parameter: pg then takes the extended protocol (parse, bind, execute) that every
  // request's queries take, so a cold start's readiness check has run that code once.
  const [table] = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    'schema_migrations',
  ]);
  if (!table?.present) return undefined;
  const [row] = await db.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
  return row?.version ?? undefined;
}
