// The HTTP server of our processes: the registered functions-framework handlers mounted
// on one Express app, either one function at "/" (an image, FUNCTION_TARGET) or every
// function at "/<name>" (the development server). The functions read their own bodies,
// so a body that is too large or not JSON is answered with the contract's error body.
import http from 'node:http';
import express from 'express';
import type { HttpFunction } from '@google-cloud/functions-framework';
import type { Logger } from '../log.js';

export interface AppOptions {
  /** Answer 404 with the contract's error body for paths no function is mounted at. */
  notFound?: boolean;
  /** Serve this OpenAPI document at GET /openapi.json. */
  openapi?: object;
  /**
   * What answers /healthz and /readyz: the functions' probe, which asks the database
   * (answerProbe of ./function.js). Without it (the portal, which holds no database) the
   * process is ready as soon as it listens. Passed in, not imported here, so that the
   * portal's bundle carries no database code.
   */
  probe?: (req: express.Request, res: express.Response) => Promise<void>;
}

export function createApp(
  mounts: ReadonlyArray<{ path: string; handler: HttpFunction }>,
  options: AppOptions = {},
): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const probe = options.probe;
  if (probe !== undefined) {
    app.get(['/healthz', '/readyz'], (req, res) => void probe(req, res).catch(() => res.status(500).end()));
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
      res
        .status(404)
        .set('Cache-Control', 'no-store')
        .json({ error: `Nothing is served at ${req.path}.`, code: 'not_found' });
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
 * On SIGTERM (Knative scaling down) or SIGINT: finish every request already sent, then stop
 * accepting, run `cleanup` (pool, workers) and exit 0; exit 1 if draining takes longer
 * than `timeoutMs`.
 *
 * The listener is not closed at once: closing it resets connections still in the accept
 * backlog, and Node's close() also drops keep-alive connections that look idle although a
 * request is already in their buffer, unread while the event loop is busy. Both are
 * requests a client has sent. So, from the signal on, every answer says Connection: close,
 * and the server closes only once nothing is in flight and nothing new has arrived for
 * `quietMs` (the platform has stopped routing to us by then).
 */
export function shutdownOnSignals(
  server: http.Server,
  cleanup: () => Promise<void>,
  log: Logger,
  timeoutMs = 25_000,
  quietMs = 250,
): void {
  let stopping = false;
  let inFlight = 0;
  let lastArrival = 0;
  server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight++;
    lastArrival = Date.now();
    if (stopping) res.shouldKeepAlive = false;
    res.once('close', () => inFlight--);
  });
  const exitWhenDrained = (): void => {
    if (inFlight > 0 || Date.now() - lastArrival < quietMs) {
      setTimeout(exitWhenDrained, 25);
      return;
    }
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
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    lastArrival = Date.now();
    log.info('shutdown', { signal, in_flight: inFlight });
    const timer = setTimeout(() => {
      log.error('shutdown_timeout', { timeout_ms: timeoutMs, in_flight: inFlight });
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    exitWhenDrained();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
