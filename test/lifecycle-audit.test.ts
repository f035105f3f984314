// Every lifecycle change of the journey, one row each (issue 16, contract §11): the change
// leaves exactly its audit record(s) and, for each published type, one outbox event
// (fr.cofrap.identity.<type>, id = the record's id, subject = the username), written by the
// transaction that made the change (same PostgreSQL transaction id on the changed row, the
// record and the event). Before that, the same change is tried with a fault injected
// between the change and the commit (a trigger made here that raises on the outbox INSERT
// of that username only): the contract's error, and no change, no record, no event.
// Finally every record and event is searched for every secret the run saw and every hash
// the database holds.
//
// Over real HTTP on the development server, real CloudEvents from the broker's stand-in,
// the operator's real command, on a real PostgreSQL; no K_SINK, so the events stay in the
// outbox as written (delivery is test/audit.test.ts's). Time is moved by writing timestamps.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { requireBackend, useServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import type { Enrolled } from './helpers/journey.js';
import { replyEvent, sendEmployeeEvent } from './helpers/events.js';
import { brokerAuthorization } from './helpers/oidc.js';
import { runToExit } from './helpers/process.js';
import type { Exit } from './helpers/process.js';
import { SecretBox } from '../lib/crypto/fernet.js';
import { SECRET_SHAPES, rememberSecret, rememberedSecrets } from './helpers/secrets.js';
import { currentStep, nextStep } from './helpers/totp.js';
import { identityEventType, isPublished } from '../lib/audit.js';
import { skeletonOf } from '../lib/usernames.js';
import type { AuditType } from '../lib/audit.js';

// Days, so that "expires in N days" is exact; RENEWAL_WINDOW and the reminders keep their defaults.
const MAX_AGE = '180 days';
const HELPDESK = '/it/helpdesk';

/** What a change answered: an HTTP answer, or the operator command's exit. */
type Result = { status: number; code?: string | undefined; text: string; stderr?: string };

/** One lifecycle change. */
interface Row {
  change: string;
  username: string;
  /** The state before the change (not counted); returns what `act` needs. */
  prepare: (username: string) => Promise<Record<string, unknown>>;
  /** Makes the change; `attempt` is 'fault' on the first, failing try. */
  act: (username: string, prepared: Record<string, unknown>, attempt: 'fault' | 'real') => Promise<Result>;
  /** The answer of the real change. */
  succeeds: { status: number; code?: string };
  /** The records it leaves: exactly these, each once (published ones with their event). */
  records: Array<{ type: AuditType; actor?: string | RegExp; details?: Record<string, unknown> }>;
  /** SQL ($1 = username) giving the transaction id of the row the change wrote, and the state a fault must leave as it was. */
  changed: { xid: string; state: string };
  /** The function (or command) whose identity-event source it is. */
  origin: string;
}

const USER_STATE = 'SELECT to_jsonb(u) AS state FROM users u WHERE username = $1';
const USER_XID = 'SELECT xmin::text AS xid FROM users WHERE username = $1';
/** Tokens handed out by the journey (a 403's renewal token too, which the HTTP helper does not remember). */
const handedOut: string[] = [];

function answered(answer: Answer): Result {
  for (const [field, value] of Object.entries(answer.body))
    if (field.endsWith('_token') && typeof value === 'string') handedOut.push(value);
  return { status: answer.status, code: answer.body.code, text: answer.text };
}
const str = (value: unknown): string => value as string;

describe("lifecycle changes: one record and one identity event each, in the change's transaction (postgres)", function () {
  const live = useServer('postgres', { CREDENTIAL_MAX_AGE: MAX_AGE });
  before(async function () {
    await requireBackend(this, 'postgres');
  });

  const fn = (name: string): string => `${live.url}/${name}`;
  const event = (type: string, data: Record<string, unknown>, id: string, source?: string): Promise<Answer> =>
    sendEmployeeEvent(fn('employee-events'), type, data, { id, ...(source === undefined ? {} : { source }) });

  /**
   * An active account: created, enrolled and signed in once, at the step before `step` (from
   * nextStep(): the current step, so `step` is still free and in the window; helpers/totp.ts).
   */
  async function activeAccount(username: string, step: number): Promise<Enrolled> {
    const account = await createAndEnroll(live.url, username);
    const first = await signIn(live.url, username, account.password, account.secret, step - 1);
    expect(first.status, first.text).to.equal(200);
    return account;
  }

  /** An active account moved inside its renewal window, signed in: the answer offers a renewal token. */
  async function renewalOffered(username: string): Promise<{ offered: Answer; step: number }> {
    const step = nextStep();
    const account = await activeAccount(username, step);
    await live.backend.sql(
      "UPDATE users SET created_at = now() - $2::interval + interval '10 days' WHERE username = $1",
      [username, MAX_AGE],
    );
    const offered = await signIn(live.url, username, account.password, account.secret, step);
    expect(offered.body.renewal_token, offered.text).to.be.a('string');
    return { offered, step };
  }

  /** The operator's command, as IT runs it; reset and enable print a link with a token on stdout. */
  async function operator(args: string[]): Promise<Result> {
    const exit = await runToExit('account', live.backend.env(), { args, stdoutHandsOver: true });
    return handedOver(exit);
  }

  function handedOver(exit: Exit): Result {
    for (const link of exit.stdout.match(/[?&](reset|invitation)=[^&\s]+/g) ?? []) {
      const token = decodeURIComponent(link.split('=')[1] as string);
      handedOut.push(token);
      rememberSecret(token, 'token');
    }
    return { status: exit.code ?? -1, text: exit.output, stderr: exit.stderr };
  }

  const rows: Row[] = [
    {
      change: 'create (self-registration)',
      username: 'lc.create',
      origin: 'generate-password',
      prepare: async () => ({}),
      act: async (username) => answered(await postJson(fn('generate-password'), { username })),
      succeeds: { status: 201 },
      records: [
        { type: 'account.created', actor: 'self', details: { provenance: 'self' } },
        { type: 'password.issued', actor: 'self', details: { reason: 'created' } },
      ],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'enroll (first call of a token)',
      username: 'lc.enroll',
      origin: 'generate-2fa',
      prepare: async (username) => ({ token: (await createAccount(live.url, username)).enrollmentToken }),
      act: async (username, p) => answered(await postJson(fn('generate-2fa'), { username, enrollment_token: p.token })),
      succeeds: { status: 200 },
      records: [{ type: 'second-factor.enrolled', actor: 'self' }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'activate (first sign-in)',
      username: 'lc.activate',
      origin: 'authenticate',
      prepare: async (username) => ({ ...(await createAndEnroll(live.url, username)), step: currentStep() }),
      act: async (username, p) =>
        answered(await signIn(live.url, username, str(p.password), str(p.secret), p.step as number)),
      succeeds: { status: 200 },
      records: [{ type: 'account.activated', actor: 'self', details: { second_factor: 'totp' } }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'expire (both factors proven past the maximum age)',
      username: 'lc.expire',
      origin: 'authenticate',
      prepare: async (username) => {
        const step = nextStep();
        const account = await activeAccount(username, step);
        await live.backend.sql(
          "UPDATE users SET created_at = now() - $2::interval - interval '1 day' WHERE username = $1",
          [username, MAX_AGE],
        );
        return { ...account, step };
      },
      act: async (username, p) =>
        answered(await signIn(live.url, username, str(p.password), str(p.secret), p.step as number)),
      succeeds: { status: 403, code: 'credentials_expired' },
      records: [{ type: 'credentials.expired', actor: 'self' }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'renewal staged (generate-password with a renewal token)',
      username: 'lc.renewal',
      origin: 'generate-password',
      prepare: async (username) => {
        const { offered } = await renewalOffered(username);
        return { token: offered.body.renewal_token };
      },
      act: async (username, p) =>
        answered(await postJson(fn('generate-password'), { username, renewal_token: p.token })),
      succeeds: { status: 200 },
      records: [{ type: 'password.issued', actor: 'self', details: { reason: 'renewal' } }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'renew (first sign-in with the staged credentials)',
      username: 'lc.renew',
      origin: 'authenticate',
      prepare: async (username) => {
        const { offered, step } = await renewalOffered(username);
        const renewed = await createAccount(
          live.url,
          username,
          { renewal_token: str(offered.body.renewal_token) },
          200,
        );
        const { secret } = await enroll(live.url, username, renewed.enrollmentToken);
        return { password: renewed.password, secret, step };
      },
      act: async (username, p) =>
        answered(await signIn(live.url, username, str(p.password), str(p.secret), p.step as number)),
      succeeds: { status: 200 },
      records: [{ type: 'credentials.renewed', actor: 'self', details: { second_factor: 'totp' } }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'recovery code used',
      username: 'lc.recovery',
      origin: 'authenticate',
      prepare: async (username) => {
        const account = await activeAccount(username, nextStep());
        return { password: account.password, code: account.recoveryCodes[3] };
      },
      act: async (username, p) =>
        answered(await postJson(fn('authenticate'), { username, password: p.password, recovery_code: p.code })),
      succeeds: { status: 200 },
      records: [
        { type: 'recovery-code.used', actor: 'self', details: { second_factor: 'recovery', recovery_codes_left: 9 } },
      ],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'locked (the 100th consecutive failure of a username)',
      username: 'lc.locked',
      origin: 'authenticate',
      prepare: async (username) => {
        await createAndEnroll(live.url, username);
        // 99 failures from elsewhere, written as the throttle counts them
        await live.backend.sql('INSERT INTO auth_throttle_username (username, failures) VALUES ($1, 99)', [username]);
        return {};
      },
      act: async (username) =>
        answered(await postJson(fn('authenticate'), { username, password: 'not-the-password', totp: '000000' })),
      succeeds: { status: 401, code: 'invalid_credentials' },
      records: [
        { type: 'account.locked', actor: 'self', details: { failures: 100 } },
        { type: 'signin.failed', actor: 'self', details: { reason: 'password' } },
      ],
      changed: {
        xid: 'SELECT xmin::text AS xid FROM auth_throttle_username WHERE username = $1',
        state: 'SELECT to_jsonb(t) AS state FROM auth_throttle_username t WHERE username = $1',
      },
    },
    {
      change: 'unlock (operator)',
      username: 'lc.unlock',
      origin: 'account',
      prepare: async (username) => {
        const account = await createAndEnroll(live.url, username);
        for (const code of ['000000', '111111'])
          expect(
            (await postJson(fn('authenticate'), { username, password: account.password, totp: code })).status,
          ).to.equal(401);
        return {};
      },
      act: (username) => operator(['unlock', username, '--by', 'it.ops']),
      succeeds: { status: 0 },
      records: [{ type: 'account.unlocked', actor: 'operator:it.ops', details: { failures: 2 } }],
      // the row lock the operator's change takes (xmax) is the change's transaction
      changed: {
        xid: 'SELECT xmax::text AS xid FROM users WHERE username = $1',
        state: `SELECT jsonb_build_object('username', (SELECT to_jsonb(t) FROM auth_throttle_username t WHERE username = $1),
                                          'pairs', (SELECT jsonb_agg(to_jsonb(p)) FROM auth_throttle p WHERE username = $1)) AS state`,
      },
    },
    {
      change: 'invite (HR: employee created)',
      username: 'lc.invite',
      origin: 'employee-events',
      prepare: async () => ({}),
      act: async (username) =>
        answered(await event('fr.cofrap.hr.employee.created', { username, email: 'lc.invite@cofrap.fr' }, 'lc-hr-1')),
      succeeds: { status: 200 },
      records: [{ type: 'account.invited', actor: '/hr/workday#lc-hr-1' }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'invitation accepted (generate-password with the invitation token)',
      username: 'lc.accept',
      origin: 'generate-password',
      prepare: async (username) => ({
        token: replyEvent(await event('fr.cofrap.hr.employee.created', { username }, 'lc-hr-2')).data?.invitation_token,
      }),
      act: async (username, p) =>
        answered(await postJson(fn('generate-password'), { username, invitation_token: p.token })),
      succeeds: { status: 201 },
      records: [{ type: 'password.issued', actor: 'self', details: { reason: 'invitation' } }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'conflict (HR creates a name someone registered first)',
      username: 'lc.conflict',
      origin: 'employee-events',
      prepare: async (username) => (await createAccount(live.url, username), {}),
      act: async (username) => answered(await event('fr.cofrap.hr.employee.created', { username }, 'lc-hr-3')),
      succeeds: { status: 200 },
      records: [{ type: 'account.conflict', actor: '/hr/workday#lc-hr-3', details: { provenance: 'self' } }],
      // nothing of the account changes: the delivery's record is the transaction's row
      changed: {
        xid: "SELECT xmin::text AS xid FROM processed_events WHERE id = 'lc-hr-3' AND username = $1",
        state: USER_STATE,
      },
    },
    {
      change: 'reset requested (IT helpdesk)',
      username: 'lc.reset',
      origin: 'employee-events',
      prepare: async (username) => (await activeAccount(username, nextStep()), {}),
      act: async (username) =>
        answered(
          await event(
            'fr.cofrap.it.credentials.reset-requested',
            { username, requested_by: 'agent.smith', reason: 'lost phone and codes' },
            'lc-it-1',
            HELPDESK,
          ),
        ),
      succeeds: { status: 200 },
      records: [
        {
          type: 'account.reset-requested',
          actor: `${HELPDESK}#lc-it-1`,
          details: { requested_by: 'agent.smith', reason: 'lost phone and codes' },
        },
      ],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'reset used (generate-password with the reset token)',
      username: 'lc.resetused',
      origin: 'generate-password',
      prepare: async (username) => {
        await activeAccount(username, nextStep());
        const reset = await event(
          'fr.cofrap.it.credentials.reset-requested',
          { username, requested_by: 'agent.smith' },
          'lc-it-2',
          HELPDESK,
        );
        return { token: replyEvent(reset).data?.reset_token };
      },
      act: async (username, p) => answered(await postJson(fn('generate-password'), { username, reset_token: p.token })),
      succeeds: { status: 200 },
      records: [{ type: 'password.issued', actor: 'self', details: { reason: 'reset' } }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'disable (HR: employee departed)',
      username: 'lc.disable',
      origin: 'employee-events',
      prepare: async (username) => (await activeAccount(username, nextStep()), {}),
      act: async (username) => answered(await event('fr.cofrap.hr.employee.departed', { username }, 'lc-hr-4')),
      succeeds: { status: 200 },
      records: [{ type: 'account.disabled', actor: '/hr/workday#lc-hr-4', details: { previous_status: 'active' } }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'rehire (HR: a disabled employee comes back)',
      username: 'lc.rehire',
      origin: 'employee-events',
      prepare: async (username) => {
        await activeAccount(username, nextStep());
        expect((await event('fr.cofrap.hr.employee.departed', { username }, 'lc-hr-5')).status).to.equal(200);
        return {};
      },
      act: async (username) => answered(await event('fr.cofrap.hr.employee.rehired', { username }, 'lc-hr-6')),
      succeeds: { status: 200 },
      records: [{ type: 'account.enabled', actor: '/hr/workday#lc-hr-6' }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'enable (operator)',
      username: 'lc.enable',
      origin: 'account',
      prepare: async (username) => {
        await createAndEnroll(live.url, username);
        expect((await operator(['disable', username, '--by', 'it.ops'])).status).to.equal(0);
        return {};
      },
      act: (username) => operator(['enable', username, '--by', 'it.ops']),
      succeeds: { status: 0 },
      records: [{ type: 'account.enabled', actor: 'operator:it.ops' }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
    {
      change: 'expiring (a housekeeping tick publishes the due reminder)',
      username: 'lc.expiring',
      origin: 'housekeeping',
      prepare: async (username) => {
        await activeAccount(username, nextStep());
        await live.backend.sql(
          "UPDATE users SET created_at = now() - $2::interval + interval '7 days' - interval '1 minute' WHERE username = $1",
          [username, MAX_AGE],
        );
        return {};
      },
      act: async () =>
        answered(await postJson(fn('housekeeping'), { specversion: '1.0' }, await brokerAuthorization())),
      succeeds: { status: 200 },
      records: [
        { type: 'credentials.expiring', actor: 'housekeeping', details: { threshold: '7 days', days_left: 7 } },
      ],
      changed: {
        xid: 'SELECT xmin::text AS xid FROM expiry_reminders WHERE username = $1',
        state: 'SELECT jsonb_agg(to_jsonb(r)) AS state FROM expiry_reminders r WHERE username = $1',
      },
    },
    {
      change: 'encryption key rotated (the rotate command re-seals a secret sealed with an older key)',
      username: 'lc.rotated',
      origin: 'rotate-encryption-key',
      prepare: async (username) => {
        const account = await createAndEnroll(live.url, username);
        // sealed with the second (older) key of encryption-key, as before a rotation
        const keys = readFileSync(path.join(live.backend.secretsDir, 'encryption-key'), 'utf8').trim().split('\n');
        await live.backend.sql('UPDATE users SET mfa_secret = $2 WHERE username = $1', [
          username,
          new SecretBox([keys[1] as string]).encrypt(account.secret),
        ]);
        return {};
      },
      act: async () => handedOver(await runToExit('rotate-encryption-key', live.backend.env())),
      succeeds: { status: 0 },
      records: [{ type: 'encryption-key.rotated', actor: 'rotate-encryption-key', details: { column: 'mfa_secret' } }],
      changed: { xid: USER_XID, state: USER_STATE },
    },
  ];

  interface Written {
    id: string;
    type: string;
    actor: string;
    details: Record<string, unknown>;
    xid: string;
    event_type: string | null;
    source: string | null;
    subject: string | null;
    data: Record<string, unknown> | null;
    event_xid: string | null;
  }

  const written = (username: string): Promise<Written[]> =>
    live.backend.sql<Written>(
      `SELECT a.id::text, a.type, a.actor, a.details, a.xmin::text AS xid,
              o.type AS event_type, o.source, o.subject, o.data, o.xmin::text AS event_xid
         FROM audit_log a LEFT JOIN outbox o USING (id)
        WHERE a.username = $1 ORDER BY a.time, a.id`,
      [username],
    );
  const eventsOf = async (username: string): Promise<string[]> =>
    (await live.backend.sql<{ id: string }>('SELECT id::text FROM outbox WHERE subject = $1', [username])).map(
      (r) => r.id,
    );
  const one = async (sql: string, username: string): Promise<unknown> =>
    Object.values((await live.backend.sql(sql, [username]))[0] ?? {})[0];

  /** The outbox INSERT of `username`'s events raises, until the returned function removes the trigger. */
  async function injectFault(username: string): Promise<() => Promise<void>> {
    await live.backend.sql(`CREATE FUNCTION lifecycle_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.subject = '${username.replace(/'/g, "''")}' THEN RAISE EXCEPTION 'fault injected between the change and the commit'; END IF;
        RETURN NEW;
      END $$`);
    await live.backend.sql(
      'CREATE TRIGGER lifecycle_fault BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION lifecycle_fault()',
    );
    return async () => {
      await live.backend.sql('DROP TRIGGER IF EXISTS lifecycle_fault ON outbox');
      await live.backend.sql('DROP FUNCTION IF EXISTS lifecycle_fault()');
    };
  }

  for (const row of rows) {
    it(`${row.change}: ${row.records.map((r) => r.type).join(' + ')}; a fault before the commit leaves nothing`, async () => {
      const { username } = row;
      const prepared = await row.prepare(username);
      const before = await written(username);
      const eventsBefore = await eventsOf(username);
      const stateBefore = await one(row.changed.state, username);

      // 1. the fault: the contract's error (500 internal; the command's exit 1 and one line), nothing changed or written
      const removeFault = await injectFault(username);
      let faulted: Result;
      try {
        faulted = await row.act(username, prepared, 'fault');
      } finally {
        await removeFault();
      }
      if (faulted.stderr !== undefined) {
        expect(faulted.status, faulted.text).to.equal(1);
        expect(faulted.stderr.trim().split('\n'), faulted.text).to.have.length(1);
      } else {
        expect([faulted.status, faulted.code], faulted.text).to.deep.equal([500, 'internal']);
      }
      expect(await one(row.changed.state, username), 'the change was rolled back').to.deep.equal(stateBefore);
      expect(await written(username), 'no record').to.deep.equal(before);
      expect(await eventsOf(username), 'no event').to.deep.equal(eventsBefore);

      // 2. the change: exactly its records, each published one with its event, all in the change's transaction
      const result = await row.act(username, prepared, 'real');
      expect(result.status, result.text).to.equal(row.succeeds.status);
      if (row.succeeds.code !== undefined) expect(result.code).to.equal(row.succeeds.code);
      const fresh = (await written(username)).filter((w) => !before.some((b) => b.id === w.id));
      expect(fresh.map((w) => w.type).sort()).to.deep.equal(row.records.map((r) => r.type).sort());
      const xid = String(await one(row.changed.xid, username));
      for (const expected of row.records) {
        const record = fresh.find((w) => w.type === expected.type) as Written;
        if (expected.actor !== undefined)
          expect(record.actor).to.match(
            typeof expected.actor === 'string'
              ? new RegExp(`^${expected.actor.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
              : expected.actor,
          );
        if (expected.details !== undefined) expect(record.details).to.deep.include(expected.details);
        if (!isPublished(expected.type)) {
          expect(record.event_type, `${expected.type} stays in the trail`).to.equal(null);
          continue;
        }
        expect(record, `${expected.type} has its event`).to.deep.include({
          event_type: identityEventType(expected.type),
          source: `/cofrap/identity/${row.origin}`,
          subject: username,
        });
        expect(record.data).to.deep.include({ username, ...(expected.details ?? {}) });
        expect(
          [record.xid, record.event_xid],
          "the record and its event are written by the change's transaction",
        ).to.deep.equal([xid, xid]);
      }
      const published = row.records.filter((r) => isPublished(r.type)).length;
      expect(
        (await eventsOf(username)).filter((id) => !eventsBefore.includes(id)),
        'no other event',
      ).to.have.length(published);
    });
  }

  it('HR and helpdesk events that change nothing are in the trail (account.unchanged), and publish nothing', async () => {
    const step = nextStep();
    await activeAccount('lc.same', step);
    await event('fr.cofrap.hr.employee.departed', { username: 'lc.gone' }, 'lc-hr-7');
    const before = await eventsOf('lc.same');
    const cases: Array<[string, string, Record<string, unknown>, string, string?]> = [
      ['lc.same', 'fr.cofrap.hr.employee.rehired', { username: 'lc.same' }, 'not_disabled'],
      ['lc.gone', 'fr.cofrap.hr.employee.departed', { username: 'lc.gone' }, 'already_disabled'],
      [
        'lc.gone',
        'fr.cofrap.it.credentials.reset-requested',
        { username: 'lc.gone', requested_by: 'agent.smith' },
        'not_active',
        HELPDESK,
      ],
      // a disabled account comes back by a re-hire only
      ['lc.gone', 'fr.cofrap.hr.employee.created', { username: 'lc.gone' }, 'exists'],
    ];
    const goneEvents = await eventsOf('lc.gone');
    for (const [index, [username, type, data, outcome, source]] of cases.entries()) {
      const id = `lc-same-${index}`;
      const answer = await event(type, data, id, source);
      expect(answer.status, answer.text).to.equal(200);
      expect(answer.text, 'no reply').to.equal('');
      const records = (await written(username)).filter((w) => w.actor.endsWith(`#${id}`));
      expect(records.map((r) => [r.type, r.details.outcome, r.event_type])).to.deep.equal([
        ['account.unchanged', outcome, null],
      ]);
      expect(records[0]?.details.event).to.equal(type);
      if (source === HELPDESK) expect(records[0]?.details.requested_by).to.equal('agent.smith');
    }
    expect(await eventsOf('lc.same')).to.deep.equal(before);
    expect(await eventsOf('lc.gone')).to.deep.equal(goneEvents);
  });

  it('more reminders due than one tick publishes (1 000): the next tick publishes the rest, each once', async () => {
    const usernames = Array.from({ length: 1001 }, (_, i) => `lc.many.${i}`);
    await live.backend.sql(
      `INSERT INTO users (username, username_skeleton, status, provenance, password_hash, created_at, activated_at)
       SELECT n, s, 'active', 'hr', '$2b$04$' || repeat('x', 53), now() - $3::interval + interval '20 days', now()
         FROM unnest($1::text[], $2::text[]) AS a(n, s)`,
      [usernames, usernames.map(skeletonOf), MAX_AGE],
    );
    const tick = async (): Promise<number> => {
      const answer = await postJson(fn('housekeeping'), { specversion: '1.0' }, await brokerAuthorization());
      expect(answer.status, answer.text).to.equal(200);
      const [row] = await live.backend.sql<{ records: number; events: number }>(
        `SELECT count(*)::int AS records, count(o.id)::int AS events FROM audit_log a LEFT JOIN outbox o USING (id)
          WHERE a.type = 'credentials.expiring' AND a.username LIKE 'lc.many.%'`,
      );
      expect(row?.events).to.equal(row?.records);
      return row?.records ?? -1;
    };
    expect(await tick(), 'one tick publishes at most its batch').to.be.at.most(1000);
    expect(await tick(), 'the next tick publishes the rest').to.equal(1001);
    expect(await tick(), 'and nothing twice').to.equal(1001);
    await live.backend.sql("DELETE FROM users WHERE username LIKE 'lc.many.%'");
  });

  it('no record and no event holds a secret: every password, code, token and secret the run saw, every hash and digest stored', async () => {
    const stored = await live.backend.sql<{ value: string }>(
      `SELECT DISTINCT value FROM users,
              LATERAL unnest(ARRAY[password_hash, staged_password_hash, mfa_secret, staged_mfa_secret, enrollment_token_hash, renewal_token_hash,
                                   invitation_token_hash, reset_token_hash, enrollment_recovery_codes]
                             || recovery_code_digests || COALESCE(staged_recovery_code_digests, '{}')) AS value
        WHERE value IS NOT NULL`,
    );
    const needles = new Map<string, string>();
    for (const [value, kind] of rememberedSecrets()) needles.set(value, kind);
    for (const value of handedOut) needles.set(value, 'token');
    for (const { value } of stored) needles.set(value, 'stored hash, digest or sealed secret');
    expect([...needles.values()]).to.include.members([
      'password',
      'totp secret',
      'token',
      'recovery code',
      'stored hash, digest or sealed secret',
    ]);

    const dumps = await live.backend.sql<{ dump: string }>(
      "SELECT to_jsonb(a)::text || coalesce(to_jsonb(o)::text, '') AS dump FROM audit_log a LEFT JOIN outbox o USING (id)",
    );
    expect(dumps.length).to.be.greaterThan(rows.length);
    const all = dumps.map((d) => d.dump).join('\n');
    for (const [value, kind] of needles) expect(all.includes(value), `a ${kind} is in the trail`).to.equal(false);
    for (const shape of SECRET_SHAPES)
      expect(all.search(shape.pattern), `a ${shape.kind} is in the trail`).to.equal(-1);
  });
});
