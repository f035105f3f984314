// npm run migrate: applies the pending migrations to the configured database and exits.
// With db-admin-username / db-admin-password in SECRETS_DIR it connects as that owner role
// and then grants the functions' role (db-credentials-username) DML on the tables, and no
// more (lib/db/grants.ts); without them it runs as the functions' role (development). Then
// it makes the functions' statement bound the database's default (lib/db/statement-timeout.ts).
import { loadMigrationConfig } from '../lib/config.js';
import type { MigrationConfig } from '../lib/config.js';
import { log } from '../lib/log.js';
import { functionsRoleProblems, grantFunctionsRole } from '../lib/db/grants.js';
import { migrate } from '../lib/db/migrate.js';
import { setDatabaseStatementTimeout } from '../lib/db/statement-timeout.js';
import { runCommand } from './command.js';

await runCommand<MigrationConfig>(
  'migration',
  async (db, config) => {
    const role = config.functionsRole;
    if (role !== undefined) {
      const problems = await functionsRoleProblems(db, role);
      if (problems.length > 0) throw new Error(problems.join('; '));
    }
    // The functions' bound on a statement outside a transaction, which a pooler keeps
    // (lib/db/statement-timeout.ts); their readiness checks it.
    await db.transaction((tx) => setDatabaseStatementTimeout(tx, config.statementTimeoutMs));
    log.info('statement_timeout_set', { statement_timeout_ms: config.statementTimeoutMs });
    process.stdout.write(`statement_timeout ${config.statementTimeoutMs} ms on new sessions\n`);
    const applied = await migrate(db, log);
    process.stdout.write(applied.length === 0 ? 'schema up to date\n' : `applied migrations ${applied.join(', ')}\n`);
    if (role !== undefined) {
      const granted = await grantFunctionsRole(db, role, log);
      process.stdout.write(
        `role ${role}: SELECT, INSERT, UPDATE, DELETE on ${granted.tables} tables of schema ${granted.schema}, SELECT on schema_migrations, no DDL\n`,
      );
    }
  },
  loadMigrationConfig,
);
