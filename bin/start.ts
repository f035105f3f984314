// Shared start-up of our processes: build the runtime from the environment, and on a bad
// configuration stop with one line that names the variable or file.
import { ConfigError } from '../lib/config.js';
import { describeError, log } from '../lib/log.js';
import { getRuntime } from '../lib/runtime.js';
import type { Runtime } from '../lib/runtime.js';

export async function startRuntime(): Promise<Runtime> {
  try {
    return await getRuntime();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
    } else {
      log.error('startup_failed', describeError(error));
      process.stderr.write(`start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  }
}
