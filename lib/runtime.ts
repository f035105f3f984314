// Everything a function needs, built once per process from the configuration: the
// database (a pg pool on the real server, or the embedded PGlite), the password hasher's
// worker threads and the Fernet keys.
import type { Config } from './config.js';
import { loadConfig } from './config.js';
import { Database, createPool } from './db/database.js';
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from './db/migrate.js';
import { statementTimeoutProblem } from './db/statement-timeout.js';
import { PasswordHasher } from './crypto/bcrypt.js';
import { SecretBox } from './crypto/fernet.js';
import { Publisher } from './outbox.js';
import { log as rootLog } from './log.js';
import type { Logger } from './log.js';

export interface Runtime {
  config: Config;
  db: Database;
  /** Sends the identity events a request committed, in the background (lib/outbox.ts). */
  publisher: Publisher;
  hasher: PasswordHasher;
  secrets: SecretBox;
  log: Logger;
}

export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  const target = config.database;
  const timeout = config.statementTimeoutMs;
  if (target.kind === 'postgres') {
    return new Database(createPool({ ...target.connection, max: target.poolMax }, log, timeout), {
      statementTimeoutMs: timeout,
    });
  }
  // Loaded only here: PGlite is tens of modules that a function on a real server never needs.
  const { startEmbedded } = await import('./db/embedded.js');
  const embedded = await startEmbedded(target.dataDir);
  // PGlite serves one session: one connection, kept open. It enforces no statement_timeout
  // (one WASM thread, no timer to cancel a statement): the client's own wait is the bound.
  const pool = createPool(
    { ...embedded.connection, max: 1, idleTimeoutMillis: 0, maxLifetimeSeconds: 0 },
    log,
    timeout,
  );
  const db = new Database(pool, { statementTimeoutMs: timeout, onClose: () => embedded.stop() });
  try {
    await migrate(db, log);
  } catch (error) {
    await db.close();
    throw error;
  }
  log.info('embedded_database', {
    data_dir: target.dataDir,
    note: 'PGlite embedded PostgreSQL for development; set DATABASE_URL or POSTGRES_HOST for a real server',
  });
  return db;
}

export async function createRuntime(config: Config, log: Logger = rootLog): Promise<Runtime> {
  const db = await openDatabase(config, log);
  // Its worker threads start with its first job (lib/crypto/bcrypt.ts), not here.
  const hasher = new PasswordHasher(config.bcryptCost, config.bcryptThreads, config.bcryptEngine, {
    queueSeconds: config.bcryptQueueSeconds,
    log,
  });
  // Where the throttle's client address comes from, said once at start; at debug level
  // each request logs how it resolved (docs/operations.md, "Client address").
  const hops = config.trustedProxyHops;
  log.info('client_address_source', {
    trusted_proxy_hops: hops,
    source: hops === 0 ? 'the TCP peer' : `the X-Forwarded-For entry ${hops} from the right`,
  });
  return {
    config,
    db,
    hasher,
    secrets: new SecretBox(config.encryptionKeys),
    log,
    publisher: new Publisher(db, config.sink, log, config.sinkTokenFile),
  };
}

export async function closeRuntime(runtime: Runtime): Promise<void> {
  await runtime.publisher.settled();
  await Promise.allSettled([runtime.db.close(), runtime.hasher.close()]);
}

/**
 * Ready means: the database answers, its schema is the one this code expects, and (on a
 * PostgreSQL server) a statement sent outside a transaction is bounded as configured
 * (through a pooler, the database's default is the only bound such a statement has).
 */
export type Readiness = { ready: boolean; reason?: string };

const checksInFlight = new WeakMap<Runtime, Promise<Readiness>>();

/**
 * One check at a time per process: a probe that comes while one runs gets its answer. So
 * a flood of /readyz costs the database one check at a time, and the check a server starts
 * as it starts (bin/serve-function.ts), its connection opened meanwhile, answers the first
 * probe of a cold start.
 */
export function readiness(runtime: Runtime): Promise<Readiness> {
  let check = checksInFlight.get(runtime);
  if (check === undefined) {
    check = checkReadiness(runtime).finally(() => checksInFlight.delete(runtime));
    checksInFlight.set(runtime, check);
  }
  return check;
}

async function checkReadiness(runtime: Runtime): Promise<Readiness> {
  try {
    const version = await schemaVersion(runtime.db);
    if (version !== LATEST_SCHEMA_VERSION) {
      return {
        ready: false,
        reason: `schema version ${version ?? 'none'}, expected ${LATEST_SCHEMA_VERSION}; run the migrations`,
      };
    }
    // Only a server cuts a statement: the embedded PGlite has no statement timeout at all.
    if (runtime.config.database.kind === 'postgres') {
      const timeout = await statementTimeoutProblem(runtime.db, runtime.config.statementTimeoutMs);
      if (timeout !== undefined) return { ready: false, reason: timeout };
    }
    return { ready: true };
  } catch {
    return { ready: false, reason: 'database unreachable' };
  }
}

let processRuntime: Promise<Runtime> | undefined;

/**
 * The process-wide runtime, created on first use from the environment. A start-up script
 * passes `load` to check more of the configuration (what the functions it serves need)
 * before anything is opened.
 */
export function getRuntime(load: () => Config = loadConfig): Promise<Runtime> {
  processRuntime ??= createRuntime(load());
  return processRuntime;
}

export async function closeProcessRuntime(): Promise<void> {
  if (processRuntime === undefined) return;
  const runtime = await processRuntime.catch(() => undefined);
  processRuntime = undefined;
  if (runtime !== undefined) await closeRuntime(runtime);
}
