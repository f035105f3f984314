// What the migration Job does (npm run migrate, bin/migrate.ts), on a database opened with
// the migration's configuration: checks the functions' role, makes their statement bound
// the database's default, applies the pending migrations, then grants the functions' role
// DML on the tables and no more. The test suites prepare their databases with it too.
import type { MigrationConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Database } from './database.js';
import { functionsRoleProblems, grantFunctionsRole } from './grants.js';
import { migrate } from './migrate.js';
import { setDatabaseStatementTimeout } from './statement-timeout.js';

/** `say` gets what the command prints for the operator, a line at a time. */
export async function runMigrationJob(
  db: Database,
  config: MigrationConfig,
  log: Logger,
  say: (line: string) => void,
): Promise<void> {
  const role = config.functionsRole;
  if (role !== undefined) {
    const problems = await functionsRoleProblems(db, role);
    if (problems.length > 0) throw new Error(problems.join('; '));
  }
  // The functions' bound on a statement outside a transaction, which a pooler keeps
  // (lib/db/statement-timeout.ts); their readiness checks it.
  await db.transaction((tx) => setDatabaseStatementTimeout(tx, config.statementTimeoutMs));
  log.info('statement_timeout_set', { statement_timeout_ms: config.statementTimeoutMs });
  say(`statement_timeout ${config.statementTimeoutMs} ms on new sessions`);
  const applied = await migrate(db, log);
  say(applied.length === 0 ? 'schema up to date' : `applied migrations ${applied.join(', ')}`);
  if (role !== undefined) {
    const granted = await grantFunctionsRole(db, role, log);
    say(
      `role ${role}: SELECT, INSERT, UPDATE, DELETE on ${granted.tables} tables of schema ${granted.schema}, SELECT on schema_migrations, no DDL`,
    );
  }
}
