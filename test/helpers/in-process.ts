// The development server's app built in the test's own process, on a scratch PostgreSQL
// database: the same Express app, the same registered function handlers and the same
// runtime (pool, bcrypt threads, keys) that bin/dev-server.js assembles, listening on a
// real port, so requests still go over real HTTP. For checks that need no process of their
// own (the status table, CORS, probes): no child to start, nothing to wait for.
//
// The runtime is the process-wide one (lib/runtime.ts): one in-process server at a time,
// its configuration given here rather than read from this process's environment.
import type http from 'node:http';
import { loadConfig } from '../../lib/config.js';
import { FUNCTIONS, FUNCTION_NAMES } from '../../lib/functions.js';
import { answerProbe } from '../../lib/http/function.js';
import { createApp, listen } from '../../lib/http/server.js';
import { OPENAPI_DOCUMENT } from '../../lib/openapi.js';
import { closeProcessRuntime, getRuntime } from '../../lib/runtime.js';
import type { Runtime } from '../../lib/runtime.js';
import { Backend, requireBackend } from './backends.js';
import { rememberOutput } from './secrets.js';

let logSink: string[] | undefined;
let capturing = false;

/**
 * The service's logger writes JSON lines to this process's stdout: from the first
 * in-process suite on, they are kept (for the suite that runs, and for the run's secret
 * check, as a spawned server's are) instead of printed among the results. Installed once
 * and left in place: a runtime's late lines (its bcrypt warm-up, a second after start)
 * may come after its suite is over.
 */
function captureServiceLogs(into: string[]): void {
  logSink = into;
  if (capturing) return;
  capturing = true;
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"time"')) {
      for (const line of chunk.split('\n').filter((l) => l !== '')) {
        logSink?.push(line);
        rememberOutput('in-process server', line);
      }
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  };
}

export interface InProcessServer {
  readonly backend: Backend;
  readonly url: string;
  readonly runtime: Runtime;
  /** The JSON lines the service logged while the suite ran (kept off the test's output). */
  readonly output: string[];
}

/**
 * Registers the hooks of a suite served in-process on a scratch PostgreSQL database, with
 * `env` added to the configuration as `Backend.env` gives it to a spawned server.
 */
export function useInProcessServer(env: Record<string, string> = {}): InProcessServer {
  const backend = new Backend('postgres');
  const output: string[] = [];
  let server: http.Server | undefined;
  let url: string | undefined;
  let runtime: Runtime | undefined;

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
    captureServiceLogs(output);
    runtime = await getRuntime(() => loadConfig(backend.env(env)));
    const mounts = FUNCTION_NAMES.map((name) => ({ path: `/${name}`, handler: FUNCTIONS[name].handler }));
    const running = await listen(createApp(mounts, { openapi: OPENAPI_DOCUMENT, probe: answerProbe }), 0);
    server = running.server;
    url = `http://127.0.0.1:${running.port}`;
  });
  after(async () => {
    if (server !== undefined) {
      const closing = server;
      const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
      closing.closeAllConnections();
      await closed;
    }
    await closeProcessRuntime();
    await backend.dispose();
  });

  return {
    backend,
    output,
    get url(): string {
      if (url === undefined) throw new Error('the in-process server is not running');
      return url;
    },
    get runtime(): Runtime {
      if (runtime === undefined) throw new Error('the in-process server is not running');
      return runtime;
    },
  };
}
