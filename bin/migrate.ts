// npm run migrate: applies the pending migrations to the configured database and exits.
import { log } from '../lib/log.js';
import { migrate } from '../lib/db/migrate.js';
import { runCommand } from './command.js';

await runCommand('migration', async (db) => {
  const applied = await migrate(db, log);
  process.stdout.write(applied.length === 0 ? 'schema up to date\n' : `applied migrations ${applied.join(', ')}\n`);
});
