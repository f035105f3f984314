// npm run migrate: applies the pending migrations to the configured database and exits.
import { loadConfig, ConfigError } from '../lib/config.js';
import { describeError, log } from '../lib/log.js';
import { migrate } from '../lib/db/migrate.js';
import { openDatabase } from '../lib/runtime.js';

try {
  const db = await openDatabase(loadConfig(), log);
  try {
    const applied = await migrate(db, log);
    process.stdout.write(applied.length === 0 ? 'schema up to date\n' : `applied migrations ${applied.join(', ')}\n`);
  } finally {
    await db.close();
  }
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`configuration error: ${error.message}\n`);
  } else {
    log.error('migration_failed', describeError(error));
    process.stderr.write(`migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
}
