// npm run account -- <verb> … (node dist/bin/account.js in every image): IT's command for
// one account or the audit trail (contract §10; the verbs in lib/operator/arguments.ts).
// stdout holds only the result, so that it can be piped; log lines (JSON) go to stderr. A
// failure is one plain line on stderr and exit status 1, never a stack.
import { once } from 'node:events';
import { ConfigError, loadConfig } from '../lib/config.js';
import type { Config } from '../lib/config.js';
import { isDatabaseUnavailable } from '../lib/db/errors.js';
import { LATEST_SCHEMA_VERSION, schemaVersion } from '../lib/db/migrate.js';
import { createLogger, describeError } from '../lib/log.js';
import { USAGE, parseCommand } from '../lib/operator/arguments.js';
import type { OperatorCommand } from '../lib/operator/arguments.js';
import { OperatorError, UsageError } from '../lib/operator/errors.js';
import { portalUrlOf } from '../lib/operator/links.js';
import { runOperatorCommand } from '../lib/operator/run.js';
import { openDatabase } from '../lib/runtime.js';

const log = createLogger({ command: 'account' }, (line) => process.stderr.write(`${line}\n`));

// A reader that stops early (`| head`) is not a failure of the command.
process.stdout.on('error', (error: NodeJS.ErrnoException) => process.exit(error.code === 'EPIPE' ? 0 : 1));

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

async function run(command: Exclude<OperatorCommand, { verb: 'help' }>): Promise<void> {
  // Read before anything changes: a bad PORTAL_URL must not leave a token no one can use.
  const portal = command.verb === 'reset' || command.verb === 'enable' ? portalUrlOf() : undefined;
  const config = loadConfig();
  const db = await openDatabase(config, log);
  try {
    const version = await schemaVersion(db);
    if (version !== LATEST_SCHEMA_VERSION) {
      throw new OperatorError(
        `the database schema is at version ${version ?? 'none'}, this command needs ${LATEST_SCHEMA_VERSION}: run the migrations`,
      );
    }
    await runOperatorCommand(command, db, config, () => portal ?? portalUrlOf(), {
      write,
      note: (text) => process.stderr.write(`${text}\n`),
    });
  } catch (error) {
    throw isDatabaseUnavailable(error) ? new DatabaseUnreachable(config, error) : error;
  } finally {
    await db.close();
  }
}

class DatabaseUnreachable extends Error {
  constructor(config: Config, cause: unknown) {
    const code = (cause as { code?: unknown }).code;
    super(`database unreachable at ${databaseLabel(config)} (${typeof code === 'string' ? code : 'no answer'})`);
  }
}

/** Where the database is, without its password. */
function databaseLabel(config: Config): string {
  const target = config.database;
  if (target.kind === 'embedded') return target.dataDir;
  const connection = target.connection;
  if ('host' in connection) return `${connection.host}:${connection.port}/${connection.database}`;
  const url = new URL(connection.connectionString);
  return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
}

function lineFor(error: unknown): string {
  if (error instanceof UsageError) return `${error.message} (see account --help)`;
  if (error instanceof OperatorError || error instanceof DatabaseUnreachable) return error.message;
  if (error instanceof ConfigError) return `configuration error: ${error.message}`;
  if (isDatabaseUnavailable(error)) return 'database unreachable';
  log.debug('account_failed', describeError(error)); // LOG_LEVEL=debug: where it was thrown
  return `failed: ${error instanceof Error ? error.message : String(error)}`;
}

// Not awaited at the top level: the image runs this module as CommonJS, compiled from its
// code cache (lib/code-cache.ts), where there is no top-level await. Every failure is
// caught, so the promise never rejects.
async function main(argv: string[]): Promise<void> {
  try {
    const command = parseCommand(argv);
    if (command.verb === 'help') {
      await write(USAGE);
      process.exitCode = command.exitCode;
    } else {
      await run(command);
    }
  } catch (error) {
    process.stderr.write(`account: ${lineFor(error)}\n`);
    process.exitCode = 1;
  }
}

void main(process.argv.slice(2));
