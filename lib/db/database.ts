// One small surface over a pg Pool: queries return rows, transactions run a callback on
// one client between BEGIN and COMMIT (ROLLBACK on any error). Both the real server and
// the embedded PGlite are reached through pg, so there is a single SQL code path.
import pg from 'pg';
import type { Logger } from '../log.js';
import { describeError } from '../log.js';
import { isDatabaseUnavailable } from './errors.js';
import { DEFAULT_STATEMENT_TIMEOUT_MS, beginWithTimeout } from './statement-timeout.js';

export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
}

export interface DatabaseOptions {
  /** The bound each transaction sets on its statements (SET LOCAL; lib/db/statement-timeout.ts). */
  statementTimeoutMs?: number;
  onClose?: () => Promise<void>;
}

export class Database implements Queryable {
  readonly statementTimeoutMs: number;
  private readonly onClose: () => Promise<void>;

  constructor(
    private readonly pool: pg.Pool,
    options: DatabaseOptions = {},
  ) {
    this.statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    this.onClose = options.onClose ?? (async () => {});
  }

  async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    const result = await this.pool.query<R>(text, params);
    return result.rows;
  }

  /**
   * Runs `work` on one dedicated connection (migrations use it for their session advisory
   * lock, which needs a direct connection: behind a transaction-mode pooler only what
   * happens between BEGIN and COMMIT stays on one server connection).
   */
  async withClient<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
    let suspect: Error | undefined;
    // A checked-out client whose connection drops between two queries (inside a
    // transaction, or the server's "terminating connection" arriving right after a
    // result) emits 'error' with no query to fail. The pool listens only to idle clients,
    // so without this listener the process would crash. The next query then fails
    // (answered 503) and the client is destroyed on release. The listener is attached in
    // the pool's callback, not after an await: the error can arrive in the same socket
    // read that handed the client over, before a promise continuation would run.
    const onError = (error: Error): void => {
      suspect = error;
    };
    const client = await new Promise<pg.PoolClient>((resolve, reject) => {
      this.pool.connect((error, connected) => {
        if (error || !connected) return reject(error ?? new Error('the pool handed over no client'));
        connected.on('error', onError);
        resolve(connected);
      });
    });
    try {
      return await work(clientQueryable(client));
    } catch (error) {
      // A connection that failed mid-conversation may be dead: destroy it rather than hand
      // it to the next request. An error of ours (a refusal thrown inside a transaction
      // that was rolled back) leaves the connection healthy and reusable.
      if (isDatabaseUnavailable(error) || error instanceof RollbackFailed) suspect = error as Error;
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(suspect);
    }
  }

  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      // BEGIN and the transaction's statement bound in one round trip; SET LOCAL ends with
      // the transaction, so no setting outlives it on a pooler's shared server connection.
      await client.query(beginWithTimeout(this.statementTimeoutMs));
      try {
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          throw new RollbackFailed(error);
        }
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
    await this.onClose();
  }
}

/** The transaction could not be rolled back: its connection must not be reused. */
class RollbackFailed extends Error {
  override name = 'RollbackFailed';
  constructor(readonly original: unknown) {
    // the cause lets a lost connection be recognised (and answered 503) through this error
    super('rollback failed', { cause: original });
    // keep the original's code so a lost connection is still answered 503
    const code = (original as { code?: unknown })?.code;
    if (typeof code === 'string') (this as { code?: string }).code = code;
  }
}

const CLIENT_WAIT_BEYOND_SERVER_MS = 2000;
const CONNECTION_LIFETIME_SECONDS = 600;

function clientQueryable(client: pg.PoolClient): Queryable {
  return {
    async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
      return (await client.query<R>(text, params)).rows;
    },
  };
}

/**
 * A pg pool whose connections carry no session setting of ours: they may be a pooler's
 * (PgBouncer in transaction mode refuses a statement_timeout startup parameter). The
 * server bounds each statement (lib/db/statement-timeout.ts); `statementTimeoutMs` sets
 * the client's own wait a little beyond, for a server that no longer answers at all.
 */
export function createPool(
  config: pg.PoolConfig,
  log: Logger,
  statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS,
): pg.Pool {
  const pool = new pg.Pool({
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    // Bounded so a hung database turns into a 503 instead of a request that never ends;
    // later than the server's bound, so that a slow statement is cut (and its locks
    // released) by the server rather than abandoned by the client.
    query_timeout: statementTimeoutMs + CLIENT_WAIT_BEYOND_SERVER_MS,
    // Connections are renewed, so a session opened before the migration set the
    // database's default statement_timeout does not keep the old one for good.
    maxLifetimeSeconds: CONNECTION_LIFETIME_SECONDS,
    application_name: 'cofrap-credentials',
    ...config,
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener
  // that would crash the process. The pool drops the client and opens a fresh one later.
  pool.on('error', (error) => log.warn('db_idle_client_error', describeError(error)));
  return pool;
}
