// The HTTP server of our processes: the registered functions-framework handlers mounted
// on one Express app, either one function at "/" (an image, FUNCTION_TARGET) or every
// function at "/<name>" (the development server). The functions read their own bodies,
// so a body that is too large or not JSON is answered with the contract's error body.
import http from 'node:http';
import express from 'express';
import type { HttpFunction } from '@google-cloud/functions-framework';
import type { Logger } from '../log.js';
import { answerProbe } from './function.js';

export interface AppOptions {
  /** Answer 404 with the contract's error body for paths no function is mounted at. */
  notFound?: boolean;
  /** Serve this OpenAPI document at GET /openapi.json. */
  openapi?: object;
  /**
   * Whether /readyz asks the database (the default). A process that holds no database (the
   * portal) is ready as soon as it listens.
   */
  databaseReadiness?: boolean;
}

export function createApp(mounts: ReadonlyArray<{ path: string; handler: HttpFunction }>, options: AppOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (options.databaseReadiness ?? true) {
    app.get(['/healthz', '/readyz'], (req, res) => void answerProbe(req, res).catch(() => res.status(500).end()));
  } else {
    app.get('/healthz', (_req, res) => void res.set('Cache-Control', 'no-store').json({ status: 'ok' }));
    app.get('/readyz', (_req, res) => void res.set('Cache-Control', 'no-store').json({ status: 'ready' }));
  }
  const document = options.openapi;
  if (document !== undefined) app.get('/openapi.json', (_req, res) => void res.json(document));
  for (const { path, handler } of mounts) {
    // HttpFunction's request type adds rawBody to Express's; the handler copes without it.
    app.use(path, (req, res) => void handler(req, res));
  }
  if (options.notFound ?? true) {
    app.use((req, res) => {
      res.status(404).set('Cache-Control', 'no-store').json({ error: `Nothing is served at ${req.path}.`, code: 'not_found' });
    });
  }
  return app;
}

export interface RunningServer {
  server: http.Server;
  port: number;
}

export function listen(app: express.Express, port: number): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(app);
    server.once('error', reject);
    server.listen(port, () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address !== null ? address.port : port });
    });
  });
}

/**
 * On SIGTERM (Knative scaling down) or SIGINT: stop accepting connections, let in-flight
 * requests finish, run `cleanup` (pool, workers), then exit 0; exit 1 if draining takes
 * longer than `timeoutMs`.
 */
export function shutdownOnSignals(server: http.Server, cleanup: () => Promise<void>, log: Logger, timeoutMs = 25_000): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutdown', { signal });
    const timer = setTimeout(() => {
      log.error('shutdown_timeout', { timeout_ms: timeoutMs });
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    server.close(() => {
      cleanup()
        .catch(() => undefined)
        .finally(() => {
          log.info('stopped');
          process.exit(0);
        });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
