// The operator command's arguments (contract §10), read with Node's util.parseArgs and
// checked before the database is opened: a typo never reaches an account.
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { MomentArgument } from '../db/operator.js';
import type { AccountStatus } from '../lifecycle.js';
import { normaliseUsername, usernameProblem } from '../usernames.js';
import { UsageError } from './errors.js';

/** A bound of `audit export`: a moment PostgreSQL reads, or a span before now. */
export type TimeBound = MomentArgument;

export type OperatorCommand =
  | { verb: 'help'; exitCode: 0 | 1 }
  | { verb: 'show'; username: string }
  | { verb: 'list'; status?: AccountStatus; expiringWithin?: string; json: boolean }
  | { verb: 'reset'; username: string; by: string; reason?: string }
  | { verb: 'disable' | 'enable' | 'unlock'; username: string; by: string }
  | { verb: 'audit-export'; since?: TimeBound; until?: TimeBound; username?: string; format: 'jsonl' | 'csv' };

export const USAGE = `Usage: account <verb> [arguments]   (npm run account -- …, or node dist/bin/account.js …)

  show <username>                         the account's state, dates, throttle and recovery codes
  list [--status S] [--expiring-within D] [--json]
                                          accounts as a table, or one JSON object per line;
                                          S: invited, pending, active or disabled; D: e.g. 30d,
                                          12h, 2w — active accounts whose credentials expire
                                          within it
  reset <username> --by N [--reason R]    a single-use reset token (RESET_TTL) for an active
                                          account; prints the portal link to hand over
  disable <username> --by N               disables the account and voids its tokens
  enable <username> --by N                a disabled account becomes invited again; prints the
                                          invitation link to hand over
  unlock <username> --by N                forgets the username's failed sign-ins
  audit export [--since T] [--until T] [--username U] [--format jsonl|csv]
                                          the audit trail, oldest first; T: an ISO 8601 time
                                          (UTC unless it says otherwise), a date, or a span
                                          before now such as 7d; --since inclusive, --until
                                          exclusive

  --by N names the operator: each change is recorded in the audit trail as operator:N.
  Links start with PORTAL_URL (default http://localhost:8080).
  Exit status 0 on success, 1 with one line on stderr otherwise.
`;

const STATUSES: readonly AccountStatus[] = ['invited', 'pending', 'active', 'disabled'];
const OPERATOR = /^[A-Za-z0-9._@-]{1,64}$/;
const REASON_MAX = 200;
// Control characters would let an argument forge lines of the trail's exports.
const CONTROL = /\p{Cc}/u;
const SPAN = /^(\d{1,4})([hdw])$/;
const SPAN_UNITS = { h: 'hours', d: 'days', w: 'weeks' } as const;

type Values = Record<string, string | boolean | undefined>;

/** parseArgs over the verb's own options: unknown options and missing values are refused. */
function parse(
  args: string[],
  options: ParseArgsConfig['options'],
  positionals: number,
): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[] };
  try {
    // parseArgs types its values from the options' literal types; these options are built
    // at run time, so its result is read as the plain shape it always has.
    const result: { values: unknown; positionals: string[] } = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    parsed = { values: result.values as Values, positionals: result.positionals };
  } catch (error) {
    // parseArgs' first sentence names the option; the rest is advice about '--' that does not fit one line
    const message = error instanceof Error ? (error.message.split(/\.\s|\n/)[0] ?? '') : '';
    throw new UsageError(message === '' ? 'bad arguments' : message);
  }
  if (parsed.values.help !== true && parsed.positionals.length !== positionals) {
    throw new UsageError(
      positionals === 1
        ? 'give exactly one username'
        : `unexpected argument "${parsed.positionals[positionals] ?? ''}"`,
    );
  }
  return parsed;
}

function text(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function usernameArgument(raw: string): string {
  const username = normaliseUsername(raw);
  const problem = usernameProblem(username);
  if (problem !== undefined) throw new UsageError(`username ${JSON.stringify(raw)} ${problem}`);
  return username;
}

function operatorOf(values: Values): string {
  const by = text(values, 'by');
  if (by === undefined)
    throw new UsageError('--by <operator> is required for a change: it names you in the audit trail');
  if (!OPERATOR.test(by)) throw new UsageError('--by must be 1 to 64 letters, digits and . _ @ - (your login name)');
  return by;
}

/** A span such as 30d as a PostgreSQL interval ("30 days"). */
export function spanArgument(option: string, raw: string): string {
  const match = SPAN.exec(raw);
  if (match === null)
    throw new UsageError(`${option} must be a span such as 30d, 12h or 2w, got ${JSON.stringify(raw)}`);
  return `${match[1]} ${SPAN_UNITS[match[2] as keyof typeof SPAN_UNITS]}`;
}

function timeBound(option: string, raw: string | undefined): TimeBound | undefined {
  if (raw === undefined) return undefined;
  if (SPAN.test(raw)) return { ago: spanArgument(option, raw) };
  if (raw.trim() === '' || CONTROL.test(raw) || raw.length > 64)
    throw new UsageError(`${option} must be a time such as 2026-03-01T08:00:00Z or a span such as 7d`);
  return { at: raw }; // PostgreSQL reads it (and refuses a 30 February)
}

function changeOf(verb: 'disable' | 'enable' | 'unlock', args: string[]): OperatorCommand {
  const { values, positionals } = parse(args, { by: { type: 'string' } }, 1);
  if (values.help === true) return { verb: 'help', exitCode: 0 };
  return { verb, username: usernameArgument(positionals[0] as string), by: operatorOf(values) };
}

function resetOf(args: string[]): OperatorCommand {
  const { values, positionals } = parse(args, { by: { type: 'string' }, reason: { type: 'string' } }, 1);
  if (values.help === true) return { verb: 'help', exitCode: 0 };
  const username = usernameArgument(positionals[0] as string);
  const by = operatorOf(values);
  const reason = text(values, 'reason');
  if (reason !== undefined && (reason.trim() === '' || [...reason].length > REASON_MAX || CONTROL.test(reason))) {
    throw new UsageError(`--reason must be 1 to ${REASON_MAX} characters on one line`);
  }
  return { verb: 'reset', username, by, ...(reason === undefined ? {} : { reason: reason.trim() }) };
}

function listOf(args: string[]): OperatorCommand {
  const { values } = parse(
    args,
    { status: { type: 'string' }, 'expiring-within': { type: 'string' }, json: { type: 'boolean' } },
    0,
  );
  if (values.help === true) return { verb: 'help', exitCode: 0 };
  const status = text(values, 'status');
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status))
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
  const within = text(values, 'expiring-within');
  return {
    verb: 'list',
    json: values.json === true,
    ...(status === undefined ? {} : { status: status as AccountStatus }),
    ...(within === undefined ? {} : { expiringWithin: spanArgument('--expiring-within', within) }),
  };
}

function auditOf(args: string[]): OperatorCommand {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') return { verb: 'help', exitCode: 0 };
  if (sub !== 'export')
    throw new UsageError(
      sub === undefined ? 'audit needs a verb: audit export' : `unknown verb "audit ${sub}": audit export`,
    );
  const options = {
    since: { type: 'string' },
    until: { type: 'string' },
    username: { type: 'string' },
    format: { type: 'string' },
  } as const;
  const { values } = parse(rest, options, 0);
  if (values.help === true) return { verb: 'help', exitCode: 0 };
  const format = text(values, 'format') ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv')
    throw new UsageError(`--format must be jsonl or csv, got ${JSON.stringify(format)}`);
  const username = text(values, 'username');
  const since = timeBound('--since', text(values, 'since'));
  const until = timeBound('--until', text(values, 'until'));
  return {
    verb: 'audit-export',
    format,
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
    ...(username === undefined ? {} : { username: usernameArgument(username) }),
  };
}

/** The command line (without node and the script) as a command, or a UsageError. */
export function parseCommand(argv: string[]): OperatorCommand {
  const [verb, ...args] = argv;
  switch (verb) {
    case undefined:
      return { verb: 'help', exitCode: 1 };
    case '--help':
    case '-h':
    case 'help':
      return { verb: 'help', exitCode: 0 };
    case 'show': {
      const { values, positionals } = parse(args, {}, 1);
      if (values.help === true) return { verb: 'help', exitCode: 0 };
      return { verb: 'show', username: usernameArgument(positionals[0] as string) };
    }
    case 'list':
      return listOf(args);
    case 'reset':
      return resetOf(args);
    case 'disable':
    case 'enable':
    case 'unlock':
      return changeOf(verb, args);
    case 'audit':
      return auditOf(args);
    default:
      throw new UsageError(
        `unknown verb ${JSON.stringify(verb)}: show, list, reset, disable, enable, unlock or audit export`,
      );
  }
}
