// The operator's command (contract §10), run as IT runs it: the image's dist/bin/account.js (dist/bundle/account.js)
// as a child process against a migrated PostgreSQL database, as the functions' DML-only
// role. Each verb's output and exit status, the one-line refusals, --by, the audit record
// each change leaves (one, as operator:N, no secret), the links' tokens used over HTTP, and
// the audit export parsed back from JSON lines and CSV.
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { parse as parseCsv } from 'csv-parse/sync';
import { Backend, requireBackend } from './helpers/backends.js';
import { runToExit } from './helpers/process.js';
import type { Exit, RunningProcess } from './helpers/process.js';
import { rememberSecret } from './helpers/secrets.js';
import { createAccount } from './helpers/journey.js';
import { skeletonOf } from '../lib/usernames.js';

interface Seeded {
  passwordHash: string;
  mfaSecret: string;
  digests: string[];
  resetTokenHash: string;
}

interface AuditRow {
  type: string;
  username: string | null;
  actor: string;
  details: Record<string, unknown>;
}

// Commas, quotes and a line break: what CSV must quote.
const ODD_ACTOR = 'hr/"x", y\n#1';
const AUDIT_FIELDS = ['time', 'type', 'username', 'actor', 'request_id', 'client_address', 'details'];

/** Values shaped like the real ones, remembered so the run's log check looks for each. */
function secrets(): Seeded {
  const seeded = {
    passwordHash: `$2b$10$${randomBytes(40).toString('base64').replace(/[+=]/g, '.').slice(0, 53)}`,
    mfaSecret: `gAAAAAB${randomBytes(60).toString('base64url')}`,
    digests: [1, 2, 3].map(() => createHash('sha256').update(randomBytes(16)).digest('hex')),
    resetTokenHash: createHash('sha256').update(randomBytes(16)).digest('hex'),
  };
  rememberSecret(seeded.mfaSecret, 'token');
  rememberSecret(seeded.resetTokenHash, 'token');
  seeded.digests.forEach((digest) => rememberSecret(digest, 'recovery code'));
  return seeded;
}

/** The single token of a link the command printed; remembered, since it must appear nowhere else. */
function tokenOf(link: string, kind: 'reset' | 'invitation'): string {
  const token = new URL(link.trim()).searchParams.get(kind);
  expect(token, link).to.be.a('string').with.length.greaterThan(40);
  rememberSecret(token, 'token');
  return token as string;
}

describe('account command on postgres', function () {
  const backend = new Backend('postgres');
  let server: RunningProcess | undefined;

  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
  });
  after(async () => {
    await server?.stop();
    await backend.dispose();
  });

  const account = (args: string[], extra: Record<string, string> = {}): Promise<Exit> =>
    runToExit('account', backend.env(extra), { args });
  /** reset and enable print a token for the operator: stdout is checked here, not recorded for the log check. */
  const handOver = (args: string[], extra: Record<string, string> = {}): Promise<Exit> =>
    runToExit('account', backend.env(extra), { args, stdoutHandsOver: true });

  /** A refusal: exit 1, nothing on stdout, one line on stderr matching `pattern`. */
  function refused(exit: Exit, pattern: RegExp): void {
    expect(exit.code, exit.output).to.equal(1);
    expect(exit.stdout).to.equal('');
    expect(exit.stderr.split('\n').filter((line) => line !== '')).to.have.length(1);
    expect(exit.stderr)
      .to.match(/^account: /)
      .and.match(pattern);
  }

  async function addAccount(
    username: string,
    options: {
      status?: string;
      provenance?: string;
      age?: string;
      expired?: boolean;
      password?: boolean;
      email?: string;
      displayName?: string;
      resetPending?: boolean;
    } = {},
  ): Promise<Seeded> {
    const seeded = secrets();
    const password = options.password ?? true;
    await backend.sql(
      `INSERT INTO users (username, username_skeleton, status, provenance, password_hash, mfa_secret, created_at, expired,
                          activated_at, email, display_name, recovery_code_digests, reset_token_hash, reset_expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, date_trunc('second', now()) - $7::interval, $8,
               CASE WHEN $3 IN ('active', 'disabled') THEN date_trunc('second', now()) - $7::interval END,
               $9, $10, $11::text[], $12, CASE WHEN $12::text IS NOT NULL THEN now() + interval '1 day' END)`,
      [
        username,
        skeletonOf(username),
        options.status ?? 'active',
        options.provenance ?? 'hr',
        password ? seeded.passwordHash : null,
        password ? seeded.mfaSecret : null,
        options.age ?? '10 days',
        options.expired ?? false,
        options.email ?? null,
        options.displayName ?? null,
        password ? seeded.digests : [],
        options.resetPending === true ? seeded.resetTokenHash : null,
      ],
    );
    return seeded;
  }

  const auditOf = (username: string): Promise<AuditRow[]> =>
    backend.sql<AuditRow>(
      'SELECT type, username, actor, details FROM audit_log WHERE username = $1 ORDER BY time, id',
      [username],
    );
  const statusOf = async (username: string): Promise<string | undefined> =>
    (await backend.sql<{ status: string }>('SELECT status FROM users WHERE username = $1', [username]))[0]?.status;
  const outboxOf = async (username: string): Promise<Array<{ type: string; source: string }>> =>
    backend.sql('SELECT type, source FROM outbox WHERE subject = $1 ORDER BY created_at', [username]);

  /** No value of `seeded`, nor a token, in what an audit record holds. */
  function expectNoSecretIn(rows: AuditRow[], seeded: Seeded, tokens: string[] = []): void {
    const text = JSON.stringify(rows);
    for (const value of [seeded.passwordHash, seeded.mfaSecret, seeded.resetTokenHash, ...seeded.digests, ...tokens])
      expect(text).to.not.include(value);
    expect(text).to.not.match(/\$2[aby]\$|gAAAAA|[0-9a-f]{64}/);
  }

  async function devServer(): Promise<string> {
    server ??= await backend.start();
    return server.url;
  }

  it('--help prints the usage on stdout and exits 0; no argument prints it and exits 1', async () => {
    const help = await account(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout)
      .to.match(/^Usage: account <verb>/)
      .and.include('audit export')
      .and.include('--by N');
    expect(help.stderr).to.equal('');
    const verbHelp = await account(['reset', '--help']);
    expect(verbHelp.code).to.equal(0);
    expect(verbHelp.stdout).to.equal(help.stdout);
    const bare = await account([]);
    expect(bare.code).to.equal(1);
    expect(bare.stdout).to.equal(help.stdout);
  });

  it('show: one field: value per line — state, dates computed by PostgreSQL, last sign-in from the trail, throttle, codes left — and no secret', async () => {
    const seeded = await addAccount('alice', {
      email: 'alice@cofrap.fr',
      displayName: 'Alice "Al" Martin',
      resetPending: true,
      age: '20 days',
    });
    await backend.sql(
      "INSERT INTO auth_throttle_username (username, failures, locked_until) VALUES ('alice', 6, now() + interval '5 minutes')",
    );
    // the latest sign-in of the trail counts; a later failure does not
    await backend.sql(
      `INSERT INTO audit_log (time, type, username, actor, details) VALUES
         (date_trunc('second', now()) - interval '3 days', 'account.activated', 'alice', 'self', '{}'),
         (date_trunc('second', now()) - interval '2 days', 'signin.succeeded', 'alice', 'self', '{}'),
         (date_trunc('second', now()) - interval '1 day', 'signin.failed', 'alice', 'self', '{"reason":"code"}')`,
    );
    const [expected] = await backend.sql<{
      created: string;
      expires: string;
      signin: string;
      locked: string;
      reset: string;
    }>(
      `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS created,
              to_char((created_at + interval '6 months') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires,
              (SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM audit_log
                WHERE username = 'alice' AND type = 'signin.succeeded') AS signin,
              (SELECT to_char(locked_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM auth_throttle_username WHERE username = 'alice') AS locked,
              to_char(reset_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS reset
         FROM users WHERE username = 'alice'`,
    );
    const shown = await account(['show', 'Alice']); // any spelling of the name
    expect(shown.code, shown.output).to.equal(0);
    expect(shown.stderr).to.equal('');
    expect(shown.stdout).to.equal(
      [
        'username: alice',
        'status: active',
        'provenance: hr',
        `created: ${expected?.created}`,
        `activated: ${expected?.created}`,
        `expires: ${expected?.expires}`,
        'expired: no',
        'disabled: -',
        `last sign-in: ${expected?.signin}`,
        'email: alice@cofrap.fr',
        'display name: Alice "Al" Martin',
        `locked until: ${expected?.locked}`,
        'failures: 6',
        'recovery codes left: 3',
        'invitation: no',
        `reset requested: valid until ${expected?.reset}`,
        'renewal offered: no',
        'staged credentials: no',
        '',
      ].join('\n'),
    );
    for (const value of [seeded.passwordHash, seeded.mfaSecret, seeded.resetTokenHash, ...seeded.digests])
      expect(shown.stdout).to.not.include(value);

    // past its age with the flag still down: expired, as a sign-in would find it; never signed in
    await addAccount('old.timer', { age: '7 months' });
    const old = await account(['show', 'old.timer']);
    expect(old.stdout).to.include('expired: yes\n').and.include('last sign-in: never\n').and.include('failures: 0\n');
    // invited: no password yet, so no dates of one
    await addAccount('newcomer', { status: 'invited', password: false });
    const invited = await account(['show', 'newcomer']);
    expect(invited.stdout)
      .to.include('status: invited\n')
      .and.include('created: -\n')
      .and.include('expires: -\n')
      .and.include('activated: never\n')
      .and.include('recovery codes left: 0\n');
  });

  it('list: an aligned table, filtered by status and by expiry, or JSON lines', async () => {
    await addAccount('list.soon', { age: '6 months -10 days', email: 'soon@cofrap.fr' });
    await addAccount('list.later', { age: '1 month' });
    await addAccount('list.gone', { status: 'disabled' });
    await addAccount('list.invited', { status: 'invited', password: false });

    const table = await account(['list']);
    expect(table.code, table.output).to.equal(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^USERNAME\s+STATUS\s+PROVENANCE\s+CREATED\s+EXPIRES\s+EXPIRED\s+LAST SIGN-IN\s+EMAIL$/);
    // aligned: every column starts at the header's offset on every row
    const offsets = ['STATUS', 'PROVENANCE', 'CREATED', 'EXPIRES', 'EXPIRED', 'LAST SIGN-IN', 'EMAIL'].map(
      (title) => lines[0]?.indexOf(title) as number,
    );
    for (const line of lines.slice(1))
      for (const offset of offsets) expect(line.slice(offset - 2, offset), line).to.equal('  ');
    const names = lines.slice(1).map((line) => line.split(/\s+/)[0]);
    expect(names).to.include.members(['list.soon', 'list.later', 'list.gone', 'list.invited']);
    expect(names).to.deep.equal([...names].sort());

    const disabled = await account(['list', '--status', 'disabled']);
    expect(
      disabled.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/)[0]),
    ).to.deep.equal(['list.gone']);

    const soon = await account(['list', '--expiring-within', '30d', '--json']);
    expect(soon.code, soon.output).to.equal(0);
    const objects = soon.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // active, not yet expired, expiring within 30 days: not old.timer (expired), not list.later
    expect(objects.map((o) => o.username)).to.deep.equal(['list.soon']);
    expect(objects[0]).to.include({
      status: 'active',
      provenance: 'hr',
      email: 'soon@cofrap.fr',
      expired: false,
      recovery_codes_left: 3,
      staged: false,
    });
    expect(new Date(objects[0]?.expires_at as string).getTime()).to.be.within(
      Date.now() + 7 * 86_400_000,
      Date.now() + 12 * 86_400_000,
    );
    expect(JSON.stringify(objects)).to.not.match(/hash|secret|digest|token/);

    refused(
      await account(['list', '--status', 'asleep']),
      /--status must be one of invited, pending, active, disabled/,
    );
    refused(await account(['list', '--expiring-within', 'soon']), /--expiring-within must be a span such as 30d/);
  });

  it('reset: prints the portal link, records account.reset-requested as operator:N; its token stages new credentials over HTTP (200)', async () => {
    const seeded = await addAccount('rita', { email: 'rita@cofrap.fr' });
    const reset = await handOver(['reset', 'rita', '--by', 'jdupont', '--reason', 'lost phone, and "backup" sheet'], {
      PORTAL_URL: 'https://portal.cofrap.test',
      RESET_TTL: '2 hours',
    });
    expect(reset.code, reset.stderr).to.equal(0);
    expect(reset.stdout).to.match(/^https:\/\/portal\.cofrap\.test\/\?username=rita&reset=[A-Za-z0-9_-]{43}\n$/);
    expect(reset.stderr).to.match(
      /^reset link for rita, single use, valid until \S+Z; recorded as operator:jdupont\n$/,
    );
    const token = tokenOf(reset.stdout, 'reset');

    const records = await auditOf('rita');
    expect(records).to.have.length(1);
    expect(records[0]).to.deep.include({
      type: 'account.reset-requested',
      username: 'rita',
      actor: 'operator:jdupont',
    });
    expect(records[0]?.details.reason).to.equal('lost phone, and "backup" sheet');
    const hours = (new Date(records[0]?.details.reset_expires_at as string).getTime() - Date.now()) / 3_600_000;
    expect(hours).to.be.within(1.9, 2.1);
    expectNoSecretIn(records, seeded, [token]);
    expect(await outboxOf('rita')).to.deep.equal([
      { type: 'fr.cofrap.identity.account.reset-requested', source: '/cofrap/identity/account' },
    ]);

    // the default portal, and the link works: generate-password stages a renewal
    const base = await devServer();
    const staged = await createAccount(base, 'rita', { reset_token: token }, 200);
    expect(staged.enrollmentToken).to.be.a('string');
    const again = await handOver(['reset', 'rita', '--by', 'jdupont']);
    expect(again.stdout).to.match(/^http:\/\/localhost:8080\/\?username=rita&reset=[A-Za-z0-9_-]{43}\n$/);
    tokenOf(again.stdout, 'reset');
    // the operator's two resets, and the password the first one's link issued
    expect((await auditOf('rita')).map((r) => `${r.type} ${r.actor}`)).to.deep.equal([
      'account.reset-requested operator:jdupont',
      'password.issued self',
      'account.reset-requested operator:jdupont',
    ]);

    // only an active account: a disabled one is refused, nothing recorded
    await addAccount('rita.gone', { status: 'disabled' });
    refused(
      await handOver(['reset', 'rita.gone', '--by', 'jdupont']),
      /^account: account "rita.gone" is disabled: only an active account can be reset$/m,
    );
    expect(await auditOf('rita.gone')).to.deep.equal([]);
  });

  it('disable and enable: as departed and rehired, each recorded once; the invitation link opens the account again', async () => {
    const seeded = await addAccount('dora', { resetPending: true });
    const disabled = await account(['disable', 'dora', '--by', 'jdupont']);
    expect(disabled.code, disabled.output).to.equal(0);
    expect(disabled.stdout).to.equal('dora disabled; recorded as operator:jdupont\n');
    const [row] = await backend.sql<{ status: string; reset_token_hash: string | null; disabled_at: Date | null }>(
      "SELECT status, reset_token_hash, disabled_at FROM users WHERE username = 'dora'",
    );
    expect(row).to.deep.include({ status: 'disabled', reset_token_hash: null });
    expect(row?.disabled_at).to.be.instanceOf(Date);
    refused(await account(['disable', 'dora', '--by', 'jdupont']), /account "dora" is already disabled/);

    const enabled = await handOver(['enable', 'dora', '--by', 'mmartin'], { INVITATION_TTL: '3 days' });
    expect(enabled.code, enabled.stderr).to.equal(0);
    expect(enabled.stdout).to.match(/^http:\/\/localhost:8080\/\?username=dora&invitation=[A-Za-z0-9_-]{43}\n$/);
    const token = tokenOf(enabled.stdout, 'invitation');
    expect(await statusOf('dora')).to.equal('invited');
    refused(
      await handOver(['enable', 'dora', '--by', 'mmartin']),
      /account "dora" is invited: only a disabled account can be enabled/,
    );

    const records = await auditOf('dora');
    expect(records.map((r) => [r.type, r.actor])).to.deep.equal([
      ['account.disabled', 'operator:jdupont'],
      ['account.enabled', 'operator:mmartin'],
    ]);
    expect(records[0]?.details).to.deep.equal({ previous_status: 'active' });
    const days = (new Date(records[1]?.details.invitation_expires_at as string).getTime() - Date.now()) / 86_400_000;
    expect(days).to.be.within(2.9, 3.1);
    expectNoSecretIn(records, seeded, [token]);
    expect((await outboxOf('dora')).map((e) => e.type)).to.deep.equal([
      'fr.cofrap.identity.account.disabled',
      'fr.cofrap.identity.account.enabled',
    ]);

    // the old credentials are gone; the invitation starts the account again
    const [after] = await backend.sql<{ password_hash: string | null; mfa_secret: string | null }>(
      "SELECT password_hash, mfa_secret FROM users WHERE username = 'dora'",
    );
    expect(after).to.deep.equal({ password_hash: null, mfa_secret: null });
    await createAccount(await devServer(), 'dora', { invitation_token: token }, 201);
  });

  it('two disables at once: one changes and is recorded, the other is refused', async () => {
    await addAccount('twice');
    const [a, b] = await Promise.all([
      account(['disable', 'twice', '--by', 'one']),
      account(['disable', 'twice', '--by', 'two']),
    ]);
    expect([a.code, b.code].sort()).to.deep.equal([0, 1]);
    expect(await auditOf('twice')).to.have.length(1);
  });

  it('unlock: forgets the failed sign-ins and records it; with none, says so and records nothing', async () => {
    await addAccount('ulla');
    await backend.sql(
      "INSERT INTO auth_throttle_username (username, failures, locked_until) VALUES ('ulla', 7, now() + interval '10 minutes')",
    );
    const unlocked = await account(['unlock', 'ulla', '--by', 'jdupont']);
    expect(unlocked.code, unlocked.output).to.equal(0);
    expect(unlocked.stdout).to.equal('ulla unlocked, 7 failed sign-ins forgotten; recorded as operator:jdupont\n');
    expect(await backend.sql("SELECT 1 FROM auth_throttle_username WHERE username = 'ulla'")).to.deep.equal([]);
    expect((await account(['show', 'ulla'])).stdout).to.include('locked until: -\nfailures: 0\n');

    const nothing = await account(['unlock', 'ulla', '--by', 'jdupont']);
    expect(nothing.code).to.equal(0);
    expect(nothing.stdout).to.equal('ulla had no failed sign-ins; nothing changed\n');
    const records = await auditOf('ulla');
    expect(records).to.have.length(1);
    expect(records[0]).to.deep.include({
      type: 'account.unlocked',
      actor: 'operator:jdupont',
      details: { failures: 7, was_locked: true },
    });
  });

  it('--by is required for every change, and names an operator; without it nothing changes', async () => {
    await addAccount('byless');
    await backend.sql("INSERT INTO auth_throttle_username (username, failures) VALUES ('byless', 2)");
    for (const verb of ['reset', 'disable', 'enable', 'unlock']) {
      refused(await handOver([verb, 'byless']), /--by <operator> is required for a change/);
      refused(await handOver([verb, 'byless', '--by', 'two words']), /--by must be 1 to 64 letters/);
    }
    refused(await handOver(['reset', 'byless', '--by']), /--by/);
    expect(await statusOf('byless')).to.equal('active');
    expect(await auditOf('byless')).to.deep.equal([]);
    expect(await backend.sql("SELECT 1 FROM auth_throttle_username WHERE username = 'byless'")).to.have.length(1);
  });

  it('one plain line on stderr and exit 1: unknown user, unknown verb, bad argument, database unreachable or not migrated', async () => {
    refused(await account(['show', 'nobody']), /^account: no account "nobody"\n$/);
    refused(await account(['disable', 'nobody', '--by', 'jdupont']), /no account "nobody"/);
    expect(await statusOf('nobody')).to.equal(undefined); // no placeholder, unlike HR's departed
    refused(await account(['frobnicate']), /unknown verb "frobnicate"/);
    refused(await account(['audit', 'import']), /unknown verb "audit import"/);
    refused(await account(['show']), /give exactly one username/);
    refused(await account(['show', 'a', 'b']), /give exactly one username/);
    refused(await account(['show', 'no spaces']), /username "no spaces" must be/);
    refused(await account(['list', '--colour']), /Unknown option '--colour' \(see account --help\)$/m);
    refused(await account(['audit', 'export', '--format', 'xml']), /--format must be jsonl or csv/);
    refused(await account(['audit', 'export', '--since', '2026-02-30']), /--since is not a time PostgreSQL can read/);
    refused(
      await handOver(['reset', 'alice', '--by', 'jdupont'], { PORTAL_URL: 'not a url' }),
      /configuration error: PORTAL_URL/,
    );
    refused(
      await account(['show', 'alice'], { POSTGRES_PORT: '1' }),
      /^account: database unreachable at 127\.0\.0\.1:1\/\S+ \(ECONNREFUSED\)\n$/,
    );

    const fresh = new Backend('postgres');
    try {
      await fresh.prepare({ migrate: false });
      refused(
        await runToExit('account', fresh.env(), { args: ['list'] }),
        /schema is at version none, this command needs \d+: run the migrations/,
      );
    } finally {
      await fresh.dispose();
    }
  });

  it('audit export: every record as JSON lines or CSV, both parsed back, with the filters', async () => {
    // a record with a comma, a quote and a line break in its fields
    await backend.sql(
      `INSERT INTO audit_log (time, type, username, actor, request_id, client_address, details) VALUES
         ('2026-01-02T03:04:05.123456Z', 'account.created', 'exporter', $1, 'req-1', '192.0.2.7', $2::jsonb),
         ('2026-01-03T00:00:00Z', 'signin.failed', 'exporter', 'self', NULL, NULL, '{"reason": "password"}')`,
      [ODD_ACTOR, JSON.stringify({ note: 'a, "b"\nc' })],
    );
    const everything = await backend.sql<{ count: string }>('SELECT count(*)::text AS count FROM audit_log');

    const jsonl = await account(['audit', 'export']);
    expect(jsonl.code, jsonl.stderr).to.equal(0);
    const lines = jsonl.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).to.have.length(Number(everything[0]?.count));
    for (const line of lines) expect(Object.keys(line)).to.deep.equal(AUDIT_FIELDS);
    const times = lines.map((line) => line.time as string);
    expect(times).to.deep.equal([...times].sort());

    const csv = await account(['audit', 'export', '--format', 'csv']);
    expect(csv.code, csv.stderr).to.equal(0);
    const rows: Array<Record<string, string>> = parseCsv(csv.stdout, { columns: true });
    expect(Object.keys(rows[0] ?? {})).to.deep.equal(AUDIT_FIELDS);
    // the CSV says what the JSON lines say: absent values are empty fields, details their JSON
    expect(rows.map((row) => ({ ...row, details: JSON.parse(row.details as string) as unknown }))).to.deep.equal(
      lines.map((line) => Object.fromEntries(AUDIT_FIELDS.map((field) => [field, line[field] ?? '']))),
    );

    const one = await account([
      'audit',
      'export',
      '--username',
      'Exporter',
      '--since',
      '2026-01-02T03:04:05.123456Z',
      '--until',
      '2026-01-03',
      '--format',
      'csv',
    ]);
    expect(one.code, one.stderr).to.equal(0);
    expect(parseCsv(one.stdout, { columns: true })).to.deep.equal([
      {
        time: '2026-01-02T03:04:05.123456Z',
        type: 'account.created',
        username: 'exporter',
        actor: ODD_ACTOR,
        request_id: 'req-1',
        client_address: '192.0.2.7',
        details: '{"note":"a, \\"b\\"\\nc"}',
      },
    ]);
    // an offset is honoured, a time without one is UTC, a span counts back from now
    const offset = await account(['audit', 'export', '--username', 'exporter', '--since', '2026-01-03T01:00:00+01:00']);
    expect(
      offset.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { type: string }).type),
    ).to.deep.equal(['signin.failed']);
    await backend.sql("INSERT INTO audit_log (type, username, actor) VALUES ('signin.succeeded', 'just.now', 'self')");
    const recent = await account(['audit', 'export', '--since', '1h']);
    expect(recent.stdout).to.include('"username":"just.now"');
    expect(recent.stdout).to.not.include('exporter');
    // pages of 1000 in (time, id) order: 2 500 records at one microsecond, none lost or repeated
    await backend.sql(
      "INSERT INTO audit_log (time, type, username, actor, details) SELECT '2026-02-01T00:00:00.000001Z', 'signin.failed', 'bulk', 'self', jsonb_build_object('n', n) FROM generate_series(1, 2500) n",
    );
    const bulk = await account(['audit', 'export', '--username', 'bulk']);
    const numbers = bulk.stdout
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { details: { n: number } }).details.n);
    expect(numbers).to.have.length(2500);
    expect(new Set(numbers).size).to.equal(2500);
    const none = await account(['audit', 'export', '--until', '2000-01-01', '--format', 'csv']);
    expect(none.stdout).to.equal(`${AUDIT_FIELDS.join(',')}\n`);
  });

  it('every change left exactly one audit record and one identity event, as operator:N, and no secret', async () => {
    const changes = await backend.sql<{
      type: string;
      actor: string;
      details: Record<string, unknown>;
      events: string;
    }>(
      `SELECT a.type, a.actor, a.details, (SELECT count(*) FROM outbox o WHERE o.id = a.id)::text AS events
         FROM audit_log a WHERE a.actor LIKE 'operator:%' ORDER BY a.time`,
    );
    // rita ×2, dora ×2, twice, ulla
    expect(changes.map((c) => c.type).sort()).to.deep.equal(
      [
        'account.disabled',
        'account.disabled',
        'account.enabled',
        'account.reset-requested',
        'account.reset-requested',
        'account.unlocked',
      ].sort(),
    );
    expect(changes.every((c) => c.events === '1' && /^operator:[a-z]+$/.test(c.actor))).to.equal(true);
    const keys = new Set(changes.flatMap((c) => Object.keys(c.details)));
    expect([...keys].sort()).to.deep.equal([
      'failures',
      'invitation_expires_at',
      'previous_status',
      'reason',
      'reset_expires_at',
      'was_locked',
    ]);
    expect(JSON.stringify(changes)).to.not.match(/[A-Za-z0-9_-]{43}|[0-9a-f]{64}|\$2[aby]\$|gAAAAA/);
  });
});
