// One function per process, as in the images: FUNCTION_TARGET names it, PORT is where it
// listens. Equivalent to the functions-framework CLI, plus our own body handling,
// readiness and graceful shutdown.
import { FUNCTION_NAMES, isFunctionName, loadFunction } from '../lib/functions.js';
import { createApp, listen, shutdownOnSignals } from '../lib/http/server.js';
import { closeProcessRuntime } from '../lib/runtime.js';
import { startRuntime } from './start.js';

const target = process.env.FUNCTION_TARGET ?? '';
if (!isFunctionName(target)) {
  process.stderr.write(`configuration error: FUNCTION_TARGET must be one of ${FUNCTION_NAMES.join(', ')}, got "${target}"\n`);
  process.exit(1);
}
const runtime = await startRuntime();
const handler = await loadFunction(target);
const { server, port } = await listen(createApp([{ path: '/', handler }], { notFound: false }), runtime.config.port);
runtime.log.info('listening', { function: target, port });
shutdownOnSignals(server, closeProcessRuntime, runtime.log);
