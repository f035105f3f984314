// Least privilege (contract §8): the migration connects as the owner role and the
// functions as a role that may only read and write the rows of the tables. After the
// migrations, the migration command grants the functions' role SELECT, INSERT, UPDATE and
// DELETE on the tables (SELECT alone on schema_migrations) and USAGE, SELECT on the
// sequences, and makes the owner's future tables and sequences granted the same way.
//
// This is a step of the command, not a migration file: a migration runs once, but the
// grants depend on the deployment (which role the functions use, which may change) and
// must cover every table whatever migration made it, so they are re-applied, idempotently,
// at every run. Before the migrations, a check refuses a functions' role that could change
// the schema (superuser, owner of a table, the schema or the database): the migration
// would otherwise fail later on a table the owner role does not own, or leave the
// functions able to do DDL.
import type { Database, Queryable } from './database.js';
import type { Logger } from '../log.js';

// Serialises the grants of migration commands that run together (GRANT on the same object
// from two sessions fails with "tuple concurrently updated"). Not the migrations' key:
// taken per transaction, after their session lock is released.
const GRANTS_LOCK_KEY = 0x434f46524151;

/** A PostgreSQL identifier, quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const how = (functionsRole: string, owner: string): string =>
  `as a superuser, in this database: REASSIGN OWNED BY ${quoteIdent(functionsRole)} TO ${quoteIdent(owner)}; ` +
  `ALTER ROLE ${quoteIdent(functionsRole)} NOSUPERUSER NOCREATEDB NOCREATEROLE (docs/operations.md, "Two database roles")`;

/** Why the functions' role cannot be given DML-only access as it is; empty when all is well. */
export async function functionsRoleProblems(db: Queryable, functionsRole: string): Promise<string[]> {
  const [role] = await db.query<{ super: boolean; createdb: boolean; createrole: boolean; me: string }>(
    'SELECT rolsuper AS super, rolcreatedb AS createdb, rolcreaterole AS createrole, current_user AS me FROM pg_roles WHERE rolname = $1',
    [functionsRole],
  );
  if (role === undefined)
    return [
      `the functions' role ${functionsRole} does not exist; create it (docs/operations.md, "Two database roles")`,
    ];
  const problems: string[] = [];
  if (role.super) problems.push(`the functions' role ${functionsRole} is a superuser`);
  if (role.createdb) problems.push(`the functions' role ${functionsRole} may create databases (CREATEDB)`);
  if (role.createrole) problems.push(`the functions' role ${functionsRole} may create roles (CREATEROLE)`);
  const owned = await db.query<{ what: string }>(
    `SELECT 'database ' || datname AS what FROM pg_database WHERE datname = current_database() AND datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)
     UNION ALL
     SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = $1)
     UNION ALL
     SELECT 'table ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = $1) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')`,
    [functionsRole],
  );
  if (owned.length > 0)
    problems.push(`the functions' role ${functionsRole} owns ${owned.map((o) => o.what).join(', ')}`);
  return problems.length === 0 ? [] : [...problems, `fix: ${how(functionsRole, role.me)}`];
}

export interface GrantResult {
  schema: string;
  /** Tables the functions' role may read and write (schema_migrations, read only, aside). */
  tables: number;
  sequences: number;
}

/**
 * Gives the functions' role DML on the tables of the current schema and nothing else, now
 * and for the tables and sequences the owner creates later; then checks it cannot create
 * anything in the schema or the database.
 */
export async function grantFunctionsRole(db: Database, functionsRole: string, log: Logger): Promise<GrantResult> {
  const result = await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [GRANTS_LOCK_KEY]);
    const [where] = await tx.query<{ schema: string; owns_schema: boolean }>(
      `SELECT current_schema() AS schema,
              pg_has_role(current_user, (SELECT nspowner FROM pg_namespace WHERE nspname = current_schema()), 'MEMBER') AS owns_schema`,
    );
    if (where?.schema === undefined || where.schema === null)
      throw new Error("no current schema: check the owner role's search_path");
    const role = quoteIdent(functionsRole);
    const schema = quoteIdent(where.schema);
    const statements = [
      `GRANT USAGE ON SCHEMA ${schema} TO ${role}`,
      `REVOKE CREATE ON SCHEMA ${schema} FROM ${role}`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`,
      `REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA ${schema} FROM ${role}`,
      `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`,
      `REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA ${schema} FROM ${role}`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role}`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT USAGE, SELECT ON SEQUENCES TO ${role}`,
    ];
    for (const statement of statements) await tx.query(statement);
    // The functions read the schema version (readiness); only the migration records one.
    const [migrations] = await tx.query<{ present: boolean }>(
      "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
    );
    if (migrations?.present) await tx.query(`REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM ${role}`);
    // PostgreSQL before 15 lets every role create in the public schema; only its owner can take that back.
    if (where.owns_schema) await tx.query(`REVOKE CREATE ON SCHEMA ${schema} FROM PUBLIC`);

    const [check] = await tx.query<{
      schema_create: boolean;
      database_create: boolean;
      tables: number;
      sequences: number;
    }>(
      `SELECT has_schema_privilege($1, current_schema(), 'CREATE') AS schema_create,
              has_database_privilege($1, current_database(), 'CREATE') AS database_create,
              (SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations') AS tables,
              (SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'S') AS sequences`,
      [functionsRole],
    );
    const left: string[] = [];
    if (check?.schema_create)
      left.push(`CREATE on schema ${where.schema} (REVOKE CREATE ON SCHEMA ${schema} FROM PUBLIC, as its owner)`);
    if (check?.database_create) left.push(`CREATE on the database (REVOKE CREATE ON DATABASE … FROM PUBLIC, ${role})`);
    if (left.length > 0) throw new Error(`the functions' role ${functionsRole} still has ${left.join(' and ')}`);
    return { schema: where.schema, tables: check?.tables ?? 0, sequences: check?.sequences ?? 0 };
  });
  log.info('functions_role_granted', { role: functionsRole, ...result });
  return result;
}
