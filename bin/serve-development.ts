// The development server (npm start): every function in one process on PORT, each JSON
// function at POST /<name> and the portal at GET / (with its assets), over the embedded
// database unless DATABASE_URL or POSTGRES_HOST is set. npm start runs it from dist/
// (bin/dev-server.ts); on a PostgreSQL server the tests and the bench run its bundle, which
// starts in a quarter of the CPU time (scripts/bundle.mjs, docs/images.md).
import { FUNCTIONS, FUNCTION_NAMES, PORTAL } from '../lib/functions.js';
import { answerProbe } from '../lib/http/function.js';
import { createApp, listen, shutdownOnSignals } from '../lib/http/server.js';
import { closeProcessRuntime } from '../lib/runtime.js';
import { OPENAPI_DOCUMENT } from '../lib/openapi.js';
import { startRuntime, uncheckedEventSenders } from './start.js';

export async function serveDevelopment(): Promise<void> {
  const runtime = await startRuntime(FUNCTION_NAMES);
  const mounts = FUNCTION_NAMES.map((name) => ({ path: `/${name}`, handler: FUNCTIONS[name].handler }));
  // Last, at "/": the portal answers its own paths and 404 (the contract's body) for the rest.
  FUNCTIONS[PORTAL].prepare?.();
  mounts.push({ path: '/', handler: FUNCTIONS[PORTAL].handler });
  const app = createApp(mounts, { openapi: OPENAPI_DOCUMENT, notFound: false, probe: answerProbe });
  const { server, port } = await listen(app, runtime.config.port);
  shutdownOnSignals(server, closeProcessRuntime, runtime.log);

  const base = `http://localhost:${port}`;
  const unchecked = uncheckedEventSenders(runtime.config);
  runtime.log.info('listening', {
    port,
    functions: [...FUNCTION_NAMES.map((name) => `POST ${base}/${name}`), `GET ${base}/ (${PORTAL})`],
  });
  process.stdout.write(
    `\nCOFRAP credential functions on ${base}\n` +
      `  GET  ${base}/   the portal (sign in, create an account, renew)\n` +
      FUNCTION_NAMES.map((name) => `  POST ${base}/${name}\n`).join('') +
      `  GET  ${base}/healthz   GET ${base}/readyz   GET ${base}/openapi.json\n` +
      (runtime.config.database.kind === 'embedded'
        ? `Embedded PostgreSQL (PGlite) in ${runtime.config.database.dataDir}\n`
        : '') +
      (unchecked.length > 0
        ? `WARNING: employee-events skips these sender checks: ${unchecked.join(', ')} (embedded development mode only)\n`
        : '') +
      '\n',
  );
}
