// The portal's server: it serves files only, opens no database and reads no secret, so
// this module imports none of that (the portal's bundle holds no database code). Ready as
// soon as it listens.
import type { HttpFunction } from '@google-cloud/functions-framework';
import { loadPort } from '../lib/config.js';
import { PORTAL } from '../lib/function-names.js';
import { createApp, listen, shutdownOnSignals } from '../lib/http/server.js';
import { log } from '../lib/log.js';
import { stopOnConfiguration } from './serve-checks.js';

/** `prepare` reads the portal's settings (PORTAL_*_URL): a bad one stops the start with one line. */
export async function servePortal(handler: HttpFunction, prepare: () => void): Promise<void> {
  let port: number;
  try {
    port = loadPort();
    prepare();
  } catch (error) {
    stopOnConfiguration(error instanceof Error ? error.message : String(error));
  }
  const running = await listen(createApp([{ path: '/', handler }], { notFound: false }), port);
  // The handlers first: a SIGTERM sent as soon as 'listening' is read must find them.
  shutdownOnSignals(running.server, async () => undefined, log);
  log.info('listening', { function: PORTAL, port: running.port });
}
