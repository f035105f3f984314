// npm run migrate: applies the pending migrations to the configured database and exits.
// With db-admin-username / db-admin-password in SECRETS_DIR it connects as that owner role
// and then grants the functions' role (db-credentials-username) DML on the tables, and no
// more (lib/db/grants.ts); without them it runs as the functions' role (development). Then
// it makes the functions' statement bound the database's default (lib/db/statement-timeout.ts).
// The steps: lib/db/migration-job.ts.
import { loadMigrationConfig } from '../lib/config.js';
import type { MigrationConfig } from '../lib/config.js';
import { log } from '../lib/log.js';
import { runMigrationJob } from '../lib/db/migration-job.js';
import { runCommand } from './command.js';

await runCommand<MigrationConfig>(
  'migration',
  (db, config) => runMigrationJob(db, config, log, (line) => process.stdout.write(`${line}\n`)),
  loadMigrationConfig,
);
