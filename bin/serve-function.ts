// One JSON function per process, as in the images: `name` is the function this process
// serves, PORT is where it listens. Equivalent to the functions-framework CLI, plus our own
// body handling, readiness and graceful shutdown. Shared by bin/serve.ts (any function, by
// FUNCTION_TARGET) and the per-function bundles of the images (scripts/bundle.mjs), which
// import their one function only. The portal has its own (bin/serve-portal.ts).
import type { HttpFunction } from '@google-cloud/functions-framework';
import { HASHING_FUNCTIONS } from '../lib/function-names.js';
import type { FunctionName } from '../lib/function-names.js';
import { prepareAddressParsing } from '../lib/http/client-address.js';
import { answerProbe } from '../lib/http/function.js';
import { createApp, listen, shutdownOnSignals } from '../lib/http/server.js';
import { closeProcessRuntime, readiness } from '../lib/runtime.js';
import { startRuntime } from './start.js';

export async function serveFunction(name: Exclude<FunctionName, 'portal'>, handler: HttpFunction): Promise<void> {
  const runtime = await startRuntime([name]);
  // A cold start is woken by a request: for these two it is a bcrypt job, and the first
  // thread's start-up (tens of ms) then overlaps the server's own instead of following it.
  if (HASHING_FUNCTIONS.includes(name)) runtime.hasher.warm();
  // The first probe's check, started now: the database connection opens while the server
  // starts listening (lib/runtime.ts, readiness).
  void readiness(runtime);
  const { server, port } = await listen(
    createApp([{ path: '/', handler }], { notFound: false, probe: answerProbe }),
    runtime.config.port,
  );
  // The handlers first: a SIGTERM sent as soon as 'listening' is read must find them.
  shutdownOnSignals(server, closeProcessRuntime, runtime.log);
  prepareAddressParsing();
  runtime.log.info('listening', { function: name, port });
}
