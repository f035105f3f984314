// One operator command against an open database: the action, then what it prints on
// stdout. The reset and invitation tokens are printed here, inside a link, and nowhere
// else — not in a log line, not in the audit trail.
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { OperatorCommand } from './arguments.js';
import {
  disableAccount,
  enableAccount,
  exportAudit,
  listAccounts,
  resetAccount,
  showAccount,
  unlockAccount,
} from './actions.js';
import { portalLink } from './links.js';
import { accountJsonLines, accountLines, accountTable, auditCsv, auditJsonLines } from './output.js';

export interface Output {
  /** The result, on stdout; waits when the reader (a pipe to a file, `| head`) is behind. */
  write: (text: string) => Promise<void>;
  /**
   * What was done, beside a link, for the operator at the terminal: on stderr, so that
   * stdout holds the link alone and can be piped to whatever hands it over.
   */
  note: (text: string) => void;
}

export type DatabaseCommand = Exclude<OperatorCommand, { verb: 'help' }>;

const until = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

export async function runOperatorCommand(
  command: DatabaseCommand,
  db: Database,
  config: Config,
  portal: () => URL,
  { write, note }: Output,
): Promise<void> {
  switch (command.verb) {
    case 'show':
      return write(accountLines(await showAccount(db, config, command.username)));
    case 'list': {
      const accounts = await listAccounts(db, config, {
        ...(command.status === undefined ? {} : { status: command.status }),
        ...(command.expiringWithin === undefined ? {} : { expiringWithin: command.expiringWithin }),
      });
      return write(command.json ? accountJsonLines(accounts) : accountTable(accounts));
    }
    case 'reset': {
      const issued = await resetAccount(db, config, command.username, command.by, command.reason);
      await write(`${portalLink(portal(), command.username, 'reset', issued.token)}\n`);
      return note(
        `reset link for ${command.username}, single use, valid until ${until(issued.expiresAt)}; recorded as operator:${command.by}`,
      );
    }
    case 'disable':
      await disableAccount(db, command.username, command.by);
      return write(`${command.username} disabled; recorded as operator:${command.by}\n`);
    case 'enable': {
      const issued = await enableAccount(db, config, command.username, command.by);
      await write(`${portalLink(portal(), command.username, 'invitation', issued.token)}\n`);
      return note(
        `${command.username} invited again, link valid until ${until(issued.expiresAt)}; recorded as operator:${command.by}`,
      );
    }
    case 'unlock': {
      const cleared = await unlockAccount(db, command.username, command.by);
      return write(
        cleared === undefined
          ? `${command.username} had no failed sign-ins; nothing changed\n`
          : `${command.username} unlocked, ${cleared.failures} failed sign-ins forgotten; recorded as operator:${command.by}\n`,
      );
    }
    case 'audit-export': {
      let first = true;
      for await (const records of exportAudit(db, command)) {
        if (command.format === 'csv') await write(auditCsv(records, first));
        else await write(auditJsonLines(records));
        first = false;
      }
      return;
    }
  }
}
