// Every identity event a real run publishes matches what openapi.yaml says of it (issue 16,
// contract §11): a compact journey over real HTTP, real CloudEvents and the operator's
// real commands on a real PostgreSQL produces every published type of lib/audit.ts; the
// outbox's deliverer sends them, in binary mode, to a real HTTP sink on this machine; each
// event received is checked against the webhook openapi.yaml describes for its type — the
// ce- headers (id = the audit record's id, subject = the username) and the data, with Ajv,
// against the schema the webhook names. A type without a webhook or a schema fails. The
// schemas must also be strict: the data without any field the code always writes, or with
// one more field (a token, a hash), must fail.
//
// The server runs without K_SINK, so the events wait in the outbox until the test
// delivers them itself (lib/outbox.ts's deliverPending, as housekeeping does): no polling,
// no waiting. Time is moved by writing timestamps.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { requireBackend, useServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import { replyEvent, sendEmployeeEvent } from './helpers/events.js';
import { brokerAuthorization } from './helpers/oidc.js';
import { runToExit } from './helpers/process.js';
import { nextStep, setLastTotpStep } from './helpers/totp.js';
import { OPENAPI_DOCUMENT, schemaAt } from '../lib/openapi.js';
import { PUBLISHED_TYPES, identityEventType } from '../lib/audit.js';
import type { PublishedType } from '../lib/audit.js';
import { decodeHeaderValue } from '../lib/cloudevents-http.js';
import { SecretBox } from '../lib/crypto/fernet.js';
import { Database, createPool } from '../lib/db/database.js';
import { deliverPending } from '../lib/outbox.js';
import { createLogger } from '../lib/log.js';

const MAX_AGE = '180 days';
const HELPDESK = '/it/helpdesk';
/** Fields some events of a type carry and others not (an e-mail HR gave, a reason, a look-alike). */
const OPTIONAL_FIELDS = ['email', 'similar_to', 'requested_by', 'reason'];

interface Received {
  /** ce- headers percent-decoded, as a receiver that follows the HTTP binding reads them. */
  headers: Record<string, string>;
  /** As they came on the wire (what the webhook's header schemas describe). */
  raw: Record<string, string>;
  data: Record<string, unknown>;
}

/** A CloudEvents sink on 127.0.0.1 that keeps every request it is sent (binary mode) and answers 202. */
class Sink {
  readonly received: Received[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      const raw: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value !== 'string') continue;
        raw[name] = value;
        headers[name] = name.startsWith('ce-') ? decodeHeaderValue(value) : value;
      }
      this.received.push({
        headers,
        raw,
        data: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(202).end();
    });
  });

  async open(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The JSON pointer of the data schema of the webhook that describes `eventType`; undefined when there is none. */
function dataSchemaPointer(eventType: string): string | undefined {
  const webhooks = (OPENAPI_DOCUMENT.webhooks ?? {}) as Record<
    string,
    { post?: { requestBody?: { content?: Record<string, { schema?: unknown }> } } }
  >;
  if (webhooks[eventType]?.post?.requestBody?.content?.['application/json']?.schema === undefined) return undefined;
  const escape = (part: string): string => part.replace(/~/g, '~0').replace(/\//g, '~1');
  return ['', 'webhooks', eventType, 'post', 'requestBody', 'content', 'application/json', 'schema']
    .map(escape)
    .join('/');
}

/** The header schemas of that webhook's parameters, by header name. */
function headerParameters(eventType: string): Map<string, { required: boolean; pointer: string }> {
  const post = (OPENAPI_DOCUMENT.webhooks as Record<string, { post: { parameters: Array<Record<string, unknown>> } }>)[
    eventType
  ]?.post;
  const parameters = new Map<string, { required: boolean; pointer: string }>();
  for (const [index, parameter] of (post?.parameters ?? []).entries()) {
    const ref = parameter.$ref as string | undefined;
    const pointer =
      ref === undefined
        ? `/webhooks/${eventType.replace(/~/g, '~0').replace(/\//g, '~1')}/post/parameters/${index}`
        : ref.slice(1);
    const resolved =
      ref === undefined
        ? parameter
        : (OPENAPI_DOCUMENT.components as Record<string, Record<string, Record<string, unknown>>>).parameters?.[
            ref.split('/').pop() as string
          ];
    if (resolved?.in === 'header')
      parameters.set(String(resolved.name).toLowerCase(), {
        required: resolved.required === true,
        pointer: `${pointer}/schema`,
      });
  }
  return parameters;
}

describe('identity events: what a run publishes matches openapi.yaml (postgres)', function () {
  const live = useServer('postgres', { CREDENTIAL_MAX_AGE: MAX_AGE });
  const sink = new Sink();
  let sinkUrl: string;
  before(async function () {
    await requireBackend(this, 'postgres');
    sinkUrl = await sink.open();
  });
  after(() => sink.close());

  const fn = (name: string): string => `${live.url}/${name}`;
  /** The replies of employee-events the journey got (invitations, resets, conflicts). */
  const replies: Array<ReturnType<typeof replyEvent>> = [];
  const hr = async (type: string, data: Record<string, unknown>, id: string, source?: string): Promise<Answer> => {
    const answer = await sendEmployeeEvent(fn('employee-events'), type, data, {
      id,
      ...(source === undefined ? {} : { source }),
    });
    if (answer.text !== '') replies.push(replyEvent(answer));
    return answer;
  };
  const operator = async (args: string[]): Promise<void> => {
    const exit = await runToExit('account', live.backend.env(), { args, stdoutHandsOver: true });
    expect(exit.code, exit.output).to.equal(0);
  };
  const ok = (answer: { status: number; text: string }, status = 200): void => {
    expect(answer.status, answer.text).to.equal(status);
  };

  it('a journey publishes every published type; each event received validates against its webhook', async () => {
    // self-registration, enrollment, activation, a recovery code, three wrong codes, the operator's unlock
    const ann = await createAndEnroll(live.url, 'es.ann');
    // Codes at step - 1 (the current step) and step, both in the window however long the step
    // has left (helpers/totp.ts, nextStep); es.ann's last sign-in moves its state back instead of
    // needing a third step.
    const step = nextStep();
    ok(await signIn(live.url, 'es.ann', ann.password, ann.secret, step - 1));
    ok(
      await postJson(fn('authenticate'), {
        username: 'es.ann',
        password: ann.password,
        recovery_code: ann.recoveryCodes[0],
      }),
    );
    for (const code of ['000000', '111111', '222222'])
      ok(await postJson(fn('authenticate'), { username: 'es.ann', password: ann.password, totp: code }), 401);
    await operator(['unlock', 'es.ann', '--by', 'it.ops']);

    // a renewal inside the window: issued, staged, enrolled, promoted by the first sign-in with it
    await live.backend.sql(
      "UPDATE users SET created_at = now() - $2::interval + interval '10 days' WHERE username = $1",
      ['es.ann', MAX_AGE],
    );
    const offered = await signIn(live.url, 'es.ann', ann.password, ann.secret, step);
    const renewal = await createAccount(
      live.url,
      'es.ann',
      { renewal_token: offered.body.renewal_token as string },
      200,
    );
    const renewed = await enroll(live.url, 'es.ann', renewal.enrollmentToken);
    ok(await signIn(live.url, 'es.ann', renewal.password, renewed.secret, step));

    // HR's employee, with an e-mail: invited, accepted, active
    const invitation = replyEvent(
      await hr('fr.cofrap.hr.employee.created', { username: 'es.bea', email: 'es.bea@cofrap.fr' }, 'es-hr-1'),
    ).data?.invitation_token as string;
    const bea = await createAccount(live.url, 'es.bea', { invitation_token: invitation });
    const beaFactor = await enroll(live.url, 'es.bea', bea.enrollmentToken);
    ok(await signIn(live.url, 'es.bea', bea.password, beaFactor.secret, step));

    // reminders: both seven days from expiry (one with an e-mail); then es.ann past the maximum age
    await live.backend.sql(
      "UPDATE users SET created_at = now() - $2::interval + interval '7 days' - interval '1 minute' WHERE username = ANY($1)",
      [['es.ann', 'es.bea'], MAX_AGE],
    );
    ok(await postJson(fn('housekeeping'), { specversion: '1.0' }, await brokerAuthorization()));
    await live.backend.sql(
      "UPDATE users SET created_at = now() - $2::interval - interval '1 day' WHERE username = $1",
      ['es.ann', MAX_AGE],
    );
    await setLastTotpStep(live.backend, 'es.ann', step - 1); // as if step - 1 was its last sign-in
    ok(await signIn(live.url, 'es.ann', renewal.password, renewed.secret, step), 403);

    // the helpdesk's reset (its event, with a reason, and the operator's), departure, re-hire, the operator's disable and enable
    ok(
      await hr(
        'fr.cofrap.it.credentials.reset-requested',
        { username: 'es.bea', requested_by: 'agent.smith', reason: 'lost phone and codes' },
        'es-it-1',
        HELPDESK,
      ),
    );
    await operator(['reset', 'es.bea', '--by', 'it.ops']);
    ok(await hr('fr.cofrap.hr.employee.departed', { username: 'es.bea' }, 'es-hr-2'));
    ok(await hr('fr.cofrap.hr.employee.rehired', { username: 'es.bea' }, 'es-hr-3'));
    ok(await hr('fr.cofrap.hr.employee.departed', { username: 'es.nobody' }, 'es-hr-4'));
    await operator(['disable', 'es.ann', '--by', 'it.ops']);
    await operator(['enable', 'es.ann', '--by', 'it.ops']);

    // conflicts: a name someone registered first, and one that looks like it
    await createAccount(live.url, 'es.fino');
    ok(await hr('fr.cofrap.hr.employee.created', { username: 'es.fino' }, 'es-hr-5'));
    ok(await hr('fr.cofrap.hr.employee.created', { username: 'es.fıno' }, 'es-hr-6'));

    // the username's ceiling of failures
    await createAndEnroll(live.url, 'es.lee');
    await live.backend.sql('INSERT INTO auth_throttle_username (username, failures) VALUES ($1, 99)', ['es.lee']);
    ok(await postJson(fn('authenticate'), { username: 'es.lee', password: 'not-the-password', totp: '000000' }), 401);

    // a secret sealed with the older key, re-sealed by the rotation command
    const rot = await createAndEnroll(live.url, 'es.rot');
    const keys = readFileSync(path.join(live.backend.secretsDir, 'encryption-key'), 'utf8').trim().split('\n');
    await live.backend.sql('UPDATE users SET mfa_secret = $2 WHERE username = $1', [
      'es.rot',
      new SecretBox([keys[1] as string]).encrypt(rot.secret),
    ]);
    const rotation = await runToExit('rotate-encryption-key', live.backend.env());
    expect(rotation.code, rotation.output).to.equal(0);

    // the outbox's deliverer sends everything to the sink
    const quiet = createLogger({}, () => undefined);
    const db = new Database(createPool({ connectionString: live.backend.databaseUrl, max: 1 }, quiet));
    try {
      for (;;) {
        const report = await deliverPending(db, sinkUrl, quiet, { limit: 100 });
        expect(report.failed).to.equal(0);
        if (report.delivered === 0) break;
      }
    } finally {
      await db.close();
    }

    const records = new Map(
      (
        await live.backend.sql<{ id: string; type: PublishedType; username: string; time: Date }>(
          'SELECT id::text, type, username, time FROM audit_log',
        )
      ).map((r) => [r.id, r]),
    );
    const [{ pending } = { pending: -1 }] = await live.backend.sql<{ pending: number }>(
      'SELECT count(*)::int AS pending FROM outbox WHERE delivered_at IS NULL',
    );
    expect(pending, 'every event was delivered').to.equal(0);
    expect(sink.received.length, 'one request per outbox event').to.equal(
      (await live.backend.sql('SELECT id FROM outbox')).length,
    );

    const seen = new Set<string>();
    const failures: string[] = [];
    for (const { headers, raw, data } of sink.received) {
      const eventType = headers['ce-type'] as string;
      const where = `${eventType} ${headers['ce-id']}`;
      const pointer = dataSchemaPointer(eventType);
      if (pointer === undefined) {
        failures.push(`${where}: no webhook in openapi.yaml describes its data`);
        continue;
      }
      seen.add(eventType);
      // the envelope: every header the webhook requires, each as its schema says; id and subject as the audit record's
      for (const [name, parameter] of headerParameters(eventType)) {
        const value = raw[name];
        if (value === undefined) {
          if (parameter.required) failures.push(`${where}: header ${name} is missing`);
          continue;
        }
        const shown = String(value);
        if (!schemaAt(parameter.pointer)(value)) failures.push(`${where}: header ${name} "${shown}" is off its schema`);
      }
      expect(headers['content-type'], where).to.match(/^application\/json/);
      const record = records.get(headers['ce-id'] as string);
      expect(record, `${where}: the audit record of that id`).to.not.equal(undefined);
      expect(record === undefined ? undefined : identityEventType(record.type), where).to.equal(eventType);
      expect([headers['ce-subject'], data.username], where).to.deep.equal([record?.username, record?.username]);
      expect(new Date(headers['ce-time'] as string).getTime(), where).to.equal(record?.time.getTime());

      // the data, against its schema
      const validate = schemaAt(pointer);
      if (!validate(data)) {
        failures.push(`${where}: ${JSON.stringify(data)} is off its schema: ${JSON.stringify(validate.errors)}`);
        continue;
      }
      // strict: each field the code always writes is required, and nothing else is admitted
      for (const field of Object.keys(data)) {
        const { [field]: _dropped, ...without } = data;
        if (validate(without) && !OPTIONAL_FIELDS.includes(field))
          failures.push(`${where}: its schema admits the data without "${field}"`);
      }
      for (const extra of [
        { token: 'x'.repeat(43) },
        { password_hash: '$2b$12$' + 'x'.repeat(53) },
        { invitation_token: 'x'.repeat(43) },
      ]) {
        if (validate({ ...data, ...extra })) failures.push(`${where}: its schema admits ${Object.keys(extra)[0]}`);
      }
    }
    expect(failures).to.deep.equal([]);
    expect([...seen].sort(), 'every published type, each with its schema').to.deep.equal(
      PUBLISHED_TYPES.map(identityEventType).sort(),
    );
    // the replies of employee-events, against their webhooks
    expect(replies.map((r) => r.type).sort()).to.deep.equal([
      'fr.cofrap.identity.account.conflict',
      'fr.cofrap.identity.account.conflict',
      'fr.cofrap.identity.account.invited',
      'fr.cofrap.identity.account.invited',
      'fr.cofrap.identity.account.reset',
    ]);
    for (const reply of replies) {
      const validate = schemaAt(dataSchemaPointer(`${reply.type} (reply)`) as string);
      expect(validate(reply.data), `${reply.type}: ${JSON.stringify(validate.errors)}`).to.equal(true);
      expect(reply.subject).to.equal(reply.data?.username);
    }

    // the variants with optional fields were among them
    const optional = sink.received.flatMap(({ headers, data }) =>
      OPTIONAL_FIELDS.filter((f) => f in data).map((f) => `${headers['ce-type']}:${f}`),
    );
    expect([...new Set(optional)].sort()).to.include.members([
      'fr.cofrap.identity.account.conflict:similar_to',
      'fr.cofrap.identity.account.reset-requested:reason',
      'fr.cofrap.identity.account.reset-requested:requested_by',
      'fr.cofrap.identity.credentials.expiring:email',
    ]);
  });

  it('every published type has a webhook, and each data schema refuses an empty object and unknown fields', () => {
    for (const type of PUBLISHED_TYPES) {
      const pointer = dataSchemaPointer(identityEventType(type));
      expect(pointer, `a webhook for ${type}`).to.be.a('string');
      const validate = schemaAt(pointer as string);
      expect(validate({}), `${type} accepts {}`).to.equal(false);
      expect(validate({ username: 'es.ann', secret: 'JBSWY3DPEHPK3PXP' }), `${type} accepts a secret field`).to.equal(
        false,
      );
    }
    // and the replies of employee-events, which the broker passes on
    for (const reply of [
      'fr.cofrap.identity.account.invited (reply)',
      'fr.cofrap.identity.account.conflict (reply)',
      'fr.cofrap.identity.account.reset (reply)',
    ]) {
      expect(dataSchemaPointer(reply), reply).to.be.a('string');
    }
  });
});
