// The frame of our one-shot commands (migrate, rotate-encryption-key): configuration and
// database opened once, one clear line on failure, the database always closed.
import { ConfigError, loadConfig } from '../lib/config.js';
import type { Config } from '../lib/config.js';
import type { Database } from '../lib/db/database.js';
import { describeError, log } from '../lib/log.js';
import { openDatabase } from '../lib/runtime.js';

export async function runCommand<C extends Config = Config>(
  name: string,
  work: (db: Database, config: C) => Promise<void>,
  load: () => C = loadConfig as () => C,
): Promise<void> {
  try {
    const config = load();
    const db = await openDatabase(config, log);
    try {
      await work(db, config);
    } finally {
      await db.close();
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
    } else {
      log.error(`${name}_failed`, describeError(error));
      process.stderr.write(`${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  }
}
