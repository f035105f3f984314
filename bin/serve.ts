// One function per process, as in the images: FUNCTION_TARGET names it, PORT is where it
// listens. Equivalent to the functions-framework CLI, plus our own body handling,
// readiness and graceful shutdown. The portal serves files only: it opens no database and
// reads no secret.
import { ConfigError, loadPort } from '../lib/config.js';
import { ALL_FUNCTION_NAMES, PORTAL, isFunctionName, loadFunction } from '../lib/functions.js';
import { createApp, listen, shutdownOnSignals } from '../lib/http/server.js';
import { log } from '../lib/log.js';
import { closeProcessRuntime } from '../lib/runtime.js';
import { startRuntime } from './start.js';

function stopOnConfiguration(message: string): never {
  process.stderr.write(`configuration error: ${message}\n`);
  process.exit(1);
}

const target = process.env.FUNCTION_TARGET ?? '';
if (!isFunctionName(target)) stopOnConfiguration(`FUNCTION_TARGET must be one of ${ALL_FUNCTION_NAMES.join(', ')}, got "${target}"`);

if (target === PORTAL) {
  let port: number;
  try {
    port = loadPort();
  } catch (error) {
    stopOnConfiguration(error instanceof ConfigError ? error.message : String(error));
  }
  // The portal reads its PORTAL_*_URL settings when its module loads.
  const handler = await loadFunction(PORTAL).catch((error: unknown) => stopOnConfiguration(error instanceof Error ? error.message : String(error)));
  const running = await listen(createApp([{ path: '/', handler }], { notFound: false, databaseReadiness: false }), port);
  // Signals handled before "listening" is said: a SIGTERM right after it drains, not kills.
  shutdownOnSignals(running.server, async () => undefined, log);
  log.info('listening', { function: target, port: running.port });
} else {
  const runtime = await startRuntime([target]);
  const handler = await loadFunction(target);
  const { server, port } = await listen(createApp([{ path: '/', handler }], { notFound: false }), runtime.config.port);
  shutdownOnSignals(server, closeProcessRuntime, runtime.log);
  runtime.log.info('listening', { function: target, port });
}
