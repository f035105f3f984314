// The embedded database for development: PGlite (PostgreSQL compiled to WASM) with its
// data under .data/, served on a private Unix socket by @electric-sql/pglite-socket so
// the application talks to it with the same pg driver and SQL as to a real server.
// PGlite runs one session: the pool that uses it must hold a single connection. The socket
// server accepts a second one only so that a reconnect is not refused while a dropped
// connection is still being detached.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { ConfigError } from '../config.js';

export interface EmbeddedServer {
  connection: { host: string; port: number; user: string; database: string };
  stop(): Promise<void>;
}

const SOCKET_PORT = 5432;

/** PGlite has no lock of its own: two processes on one data directory would corrupt it. */
function takeDirectoryLock(dataDir: string): () => void {
  const lockFile = path.join(dataDir, 'cofrap.pid');
  if (existsSync(lockFile)) {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new ConfigError(
        `PGLITE_DATA_DIR ${dataDir} is in use by process ${pid}; stop it or choose another directory`,
      );
    }
  }
  writeFileSync(lockFile, String(process.pid));
  return () => rmSync(lockFile, { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Opens (or, empty, initialises) PGlite's data directory `pgdata` of `dataDir`. PGlite's
 * PostgreSQL is megabytes of WASM. V8's default recompiles its hot functions with TurboFan
 * in the background, which costs more CPU than the faster code earns back in a development
 * server's life; its baseline code (Liftoff) alone is the cheaper (bench/README.md, item
 * 12, measures both). Set before the module is compiled; it concerns WASM only, and only
 * PGlite runs WASM here.
 */
export function openPGlite(dataDir: string): Promise<PGlite> {
  v8.setFlagsFromString('--liftoff-only');
  return PGlite.create(path.join(dataDir, 'pgdata'));
}

export async function startEmbedded(dataDir: string): Promise<EmbeddedServer> {
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = takeDirectoryLock(dataDir);
  const socketDir = mkdtempSync(path.join(tmpdir(), 'cofrap-pglite-'));
  let db: PGlite | undefined;
  try {
    db = await openPGlite(dataDir);
    const server = new PGLiteSocketServer({
      db,
      path: path.join(socketDir, `.s.PGSQL.${SOCKET_PORT}`),
      maxConnections: 2,
    });
    await server.start();
    const opened = db;
    return {
      connection: { host: socketDir, port: SOCKET_PORT, user: 'postgres', database: 'postgres' },
      async stop() {
        await server.stop();
        await opened.close();
        rmSync(socketDir, { recursive: true, force: true });
        releaseLock();
      },
    };
  } catch (error) {
    await db?.close().catch(() => undefined);
    rmSync(socketDir, { recursive: true, force: true });
    releaseLock();
    throw error;
  }
}
