// One function per process, as in the images: `name` is the function this process serves,
// PORT is where it listens. Equivalent to the functions-framework CLI, plus our own body
// handling, readiness and graceful shutdown. The portal serves files only: it opens no
// database and reads no secret. Shared by bin/serve.ts (any function, by FUNCTION_TARGET)
// and the per-function bundles of the images (scripts/bundle.mjs), which import their one
// function only.
import type { HttpFunction } from '@google-cloud/functions-framework';
import { ConfigError, loadPort } from '../lib/config.js';
import { PORTAL } from '../lib/function-names.js';
import type { FunctionName } from '../lib/function-names.js';
import { createApp, listen, shutdownOnSignals } from '../lib/http/server.js';
import { log } from '../lib/log.js';
import { closeProcessRuntime } from '../lib/runtime.js';
import { startRuntime } from './start.js';

export function stopOnConfiguration(message: string): never {
  process.stderr.write(`configuration error: ${message}\n`);
  process.exit(1);
}

export async function serveFunction(name: FunctionName, handler: HttpFunction, prepare?: () => void): Promise<void> {
  if (name === PORTAL) {
    let port: number;
    try {
      port = loadPort();
      // The portal reads its PORTAL_*_URL settings here, before it listens.
      prepare?.();
    } catch (error) {
      stopOnConfiguration(error instanceof ConfigError || error instanceof Error ? error.message : String(error));
    }
    const running = await listen(createApp([{ path: '/', handler }], { notFound: false, databaseReadiness: false }), port);
    log.info('listening', { function: name, port: running.port });
    shutdownOnSignals(running.server, async () => undefined, log);
    return;
  }
  const runtime = await startRuntime([name]);
  const { server, port } = await listen(createApp([{ path: '/', handler }], { notFound: false }), runtime.config.port);
  runtime.log.info('listening', { function: name, port });
  shutdownOnSignals(server, closeProcessRuntime, runtime.log);
}

/** A bundle serves the function it was built for; a FUNCTION_TARGET naming another is a mistake. */
export function checkTarget(name: FunctionName): void {
  const target = process.env.FUNCTION_TARGET ?? '';
  if (target !== '' && target !== name) stopOnConfiguration(`FUNCTION_TARGET is "${target}", but this server is built for ${name} only`);
}
