// Only the broker may deliver, and only for HR and the helpdesk (contract §7, issue 14):
// employee-events verifies Knative Eventing's OIDC token against a real JWKS that this
// test serves over HTTP (TestIssuer: key pairs made here, tokens signed here), refuses
// every forged or foreign token with one 401 and writes nothing (rows counted on
// PostgreSQL), refuses sources outside HR_EVENT_SOURCES with 403, picks up a rotated key,
// and answers 503 when the keys cannot be fetched. Timestamps are written into the tokens
// (or the verifier's clock is injected); nothing here reads the clock.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { SignJWT, UnsecuredJWT, base64url } from 'jose';
import { ConfigError, loadConfig, requireEventSenderChecks } from '../lib/config.js';
import { KeysUnavailable, TokenRefused, createOidcVerifier } from '../lib/oidc-verifier.js';
import type { OidcVerifierSettings, RefusalReason } from '../lib/oidc-verifier.js';
import { Backend, makeSecretsDir, useServer } from './helpers/backends.js';
import type { LiveServer } from './helpers/backends.js';
import { replyEvent, sendEmployeeEvent } from './helpers/events.js';
import type { EventOptions } from './helpers/events.js';
import type { Answer } from './helpers/http.js';
import { postJson, request } from './helpers/http.js';
import { EXPIRES_AT, ISSUED_AT, TestIssuer, newSigningKey } from './helpers/oidc.js';
import { runToExit, startProcess } from './helpers/process.js';
import type { RunningProcess } from './helpers/process.js';
import { rememberSecret } from './helpers/secrets.js';
import { pause } from './helpers/time.js';

const CREATED = 'fr.cofrap.hr.employee.created';
const UNAUTHENTICATED_BODY = {
  error: 'The request does not prove that it comes from the event broker.',
  code: 'unauthenticated',
};

/** The JSON log line of `event` for one request, once the server has printed it. */
async function logLine(server: RunningProcess, requestId: string, event: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const line of server.output) {
      if (!line.startsWith('{') || !line.includes(requestId)) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.request_id === requestId && entry.event === event) return entry;
    }
    await pause(20);
  }
  throw new Error(`no "${event}" line for request ${requestId}:\n${server.output.slice(-20).join('\n')}`);
}

async function counts(live: LiveServer): Promise<{ users: number; events: number }> {
  const [row] = await live.backend.sql<{ users: number; events: number }>(
    'SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM processed_events)::int AS events',
  );
  return row as { users: number; events: number };
}

function expectUnauthenticated(answer: Answer): void {
  expect(answer.status, answer.text).to.equal(401);
  expect(answer.body).to.deep.equal(UNAUTHENTICATED_BODY);
  expect(answer.headers.get('www-authenticate')).to.equal('Bearer');
}

/** A token with its payload replaced after signing: the signature no longer matches. */
function tampered(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const changed = {
    ...(JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as Record<string, unknown>),
    ...claims,
  };
  return [header, base64url.encode(JSON.stringify(changed)), signature].join('.');
}

describe('events auth: configuration (§7, §9)', () => {
  const secretsDir = makeSecretsDir();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cofrap-unused-'));
  const postgres = { POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: secretsDir };
  const embedded = { PGLITE_DATA_DIR: dataDir, SECRETS_DIR: secretsDir };
  const oidc = {
    EVENTS_OIDC_ISSUER: 'https://kubernetes.default.svc',
    EVENTS_OIDC_AUDIENCE: 'cofrap/employee-events',
    EVENTS_OIDC_JWKS_URL: 'https://kubernetes.default.svc/openid/v1/jwks',
  };
  const complete = {
    ...oidc,
    EVENTS_OIDC_SUBJECTS: 'system:serviceaccount:cofrap:hr-trigger',
    HR_EVENT_SOURCES: '/hr/workday,/it/helpdesk',
  };
  after(() => {
    rmSync(secretsDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const refusal = (env: Record<string, string>, check = false): string => {
    try {
      const config = loadConfig(env);
      if (check) requireEventSenderChecks(config);
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      return (error as Error).message;
    }
    return 'accepted';
  };

  it('outside the embedded mode, employee-events needs the issuer, audience, JWKS, subjects and sources', () => {
    expect(refusal(postgres, true)).to.match(
      /^EVENTS_OIDC_ISSUER, EVENTS_OIDC_AUDIENCE and EVENTS_OIDC_JWKS_URL must be set to serve employee-events on a PostgreSQL server/,
    );
    expect(refusal({ ...postgres, ...complete, EVENTS_OIDC_SUBJECTS: '' }, true)).to.match(
      /^EVENTS_OIDC_SUBJECTS must be set/,
    );
    expect(refusal({ ...postgres, ...complete, HR_EVENT_SOURCES: '' }, true)).to.match(/^HR_EVENT_SOURCES must be set/);
    expect(refusal({ ...postgres, ...complete }, true)).to.equal('accepted');
    // the other functions do not need them
    expect(refusal(postgres)).to.equal('accepted');
    // the embedded mode accepts unauthenticated events (and says so at start)
    expect(refusal(embedded, true)).to.equal('accepted');
  });

  it('reads the settings, and refuses half of them or a JWKS that could be swapped on the way', () => {
    const config = loadConfig({
      ...postgres,
      ...complete,
      EVENTS_OIDC_SUBJECTS: ' system:serviceaccount:cofrap:a , system:serviceaccount:cofrap:b ',
    });
    expect(config.eventsOidc).to.deep.equal({
      ...{ issuer: oidc.EVENTS_OIDC_ISSUER, audience: oidc.EVENTS_OIDC_AUDIENCE, jwksUrl: oidc.EVENTS_OIDC_JWKS_URL },
      subjects: ['system:serviceaccount:cofrap:a', 'system:serviceaccount:cofrap:b'],
      jwksTokenFile: undefined,
      jwksCooldownSeconds: 30,
    });
    expect(config.hrEventSources).to.deep.equal(['/hr/workday', '/it/helpdesk']);
    expect(refusal({ ...embedded, EVENTS_OIDC_ISSUER: oidc.EVENTS_OIDC_ISSUER })).to.match(
      /^EVENTS_OIDC_AUDIENCE must be set together with EVENTS_OIDC_ISSUER/,
    );
    expect(refusal({ ...embedded, ...oidc, EVENTS_OIDC_JWKS_URL: '' })).to.match(/^EVENTS_OIDC_JWKS_URL must be set/);
    expect(refusal({ ...embedded, EVENTS_OIDC_SUBJECTS: 'system:serviceaccount:a:b' })).to.match(
      /^EVENTS_OIDC_SUBJECTS is set but EVENTS_OIDC_ISSUER/,
    );
    expect(
      refusal({ ...embedded, ...oidc, EVENTS_OIDC_JWKS_URL: 'http://kubernetes.default.svc/openid/v1/jwks' }),
    ).to.match(/^EVENTS_OIDC_JWKS_URL must be an https:\/\/ URL/);
    expect(refusal({ ...embedded, ...oidc, EVENTS_OIDC_JWKS_URL: 'http://127.0.0.1:9/jwks' })).to.equal('accepted');
    expect(refusal({ ...embedded, ...oidc, EVENTS_OIDC_JWKS_URL: 'not a url' })).to.match(
      /^EVENTS_OIDC_JWKS_URL is not a URL/,
    );
    expect(refusal({ ...embedded, ...oidc, EVENTS_OIDC_JWKS_TOKEN_FILE: path.join(dataDir, 'absent') })).to.match(
      /^EVENTS_OIDC_JWKS_TOKEN_FILE names .* which cannot be read/,
    );
    expect(refusal({ ...embedded, ...oidc, EVENTS_OIDC_JWKS_COOLDOWN_SECONDS: '-1' })).to.match(
      /^EVENTS_OIDC_JWKS_COOLDOWN_SECONDS/,
    );
    expect(refusal({ ...embedded, HR_EVENT_SOURCES: '/hr/workday,,/it/helpdesk' })).to.match(
      /^HR_EVENT_SOURCES holds an empty entry/,
    );
  });

  it('a server on PostgreSQL without them stops at start with one line naming the variable', async () => {
    const backend = new Backend('postgres');
    const blank = {
      EVENTS_OIDC_ISSUER: '',
      EVENTS_OIDC_AUDIENCE: '',
      EVENTS_OIDC_JWKS_URL: '',
      EVENTS_OIDC_SUBJECTS: '',
      HR_EVENT_SOURCES: '',
    };
    try {
      for (const [script, extra, named] of [
        ['dev-server', blank, 'EVENTS_OIDC_ISSUER'],
        ['serve', { ...blank, FUNCTION_TARGET: 'employee-events' }, 'EVENTS_OIDC_ISSUER'],
        ['serve', { HR_EVENT_SOURCES: '', FUNCTION_TARGET: 'employee-events' }, 'HR_EVENT_SOURCES'],
      ] as const) {
        const result = await runToExit(script, backend.env(extra));
        expect(result.code, result.output).to.equal(1);
        const lines = result.output.trim().split('\n');
        expect(lines, result.output).to.have.length(1);
        expect(lines[0]).to.match(new RegExp(`^configuration error: ${named}`));
      }
      // a function that takes no events starts without them (no database is touched before a request)
      const other = await startProcess({
        script: 'serve',
        env: backend.env({ ...blank, FUNCTION_TARGET: 'generate-password' }),
      });
      expect(await other.stop()).to.equal(0);
    } finally {
      await backend.dispose();
    }
  });
});

describe('events auth: the token verifier, with an injected clock', () => {
  let issuer: TestIssuer;
  let settings: OidcVerifierSettings;
  before(async () => {
    issuer = await TestIssuer.start({ alg: 'ES256' });
    settings = {
      issuer: issuer.issuer,
      audience: issuer.audience,
      jwksUrl: issuer.jwksUrl,
      subjects: [issuer.subject],
    };
  });
  after(() => issuer.stop());

  const outcome = async (token: string, at: number, over: Partial<OidcVerifierSettings> = {}): Promise<string> => {
    const verify = createOidcVerifier({ ...settings, ...over, now: () => new Date(at * 1000) });
    try {
      return (await verify(token)).subject;
    } catch (error) {
      if (error instanceof TokenRefused) return error.reason;
      throw error;
    }
  };

  it('exp and nbf hold with 30 seconds of tolerance for clock skew, no more', async () => {
    const exp = ISSUED_AT + 3600;
    const token = await issuer.token({ claims: { exp } });
    expect(await outcome(token, ISSUED_AT)).to.equal(issuer.subject);
    // jose: expired once exp <= now - tolerance; not yet valid while nbf > now + tolerance
    expect(await outcome(token, exp + 29)).to.equal(issuer.subject);
    expect(await outcome(token, exp + 30)).to.equal('expired');
    expect(await outcome(token, ISSUED_AT - 30)).to.equal(issuer.subject);
    expect(await outcome(token, ISSUED_AT - 31)).to.equal('not_yet_valid');
  });

  it('names each reason, for the log', async () => {
    const other = await newSigningKey('ES256');
    const cases: Array<[string | undefined, RefusalReason]> = [
      [undefined, 'no_token'],
      ['garbage', 'malformed'],
      [
        new UnsecuredJWT({ iss: issuer.issuer, aud: issuer.audience, sub: issuer.subject, exp: EXPIRES_AT }).encode(),
        'algorithm',
      ],
      [tampered(await issuer.token(), { sub: 'system:serviceaccount:cofrap:mallory' }), 'signature'],
      [await issuer.token({ key: { ...other, kid: issuer.currentKey.kid } }), 'signature'],
      [await issuer.token({ key: other }), 'unknown_key'],
      [await issuer.token({ claims: { iss: 'https://evil.example' } }), 'issuer'],
      [await issuer.token({ claims: { aud: 'cofrap/housekeeping' } }), 'audience'],
      [await issuer.token({ claims: { sub: undefined } }), 'claims'],
      [await issuer.token({ claims: { exp: undefined } }), 'claims'],
      [await issuer.token({ claims: { sub: 'system:serviceaccount:cofrap:mallory' } }), 'subject'],
    ];
    for (const [token, reason] of cases) expect(await outcome(token as string, ISSUED_AT), reason).to.equal(reason);
  });

  it('the audience is a parameter (housekeeping has its own); no subject list accepts any subject', async () => {
    const forHousekeeping = await issuer.token({
      claims: { aud: 'cofrap/housekeeping', sub: 'system:serviceaccount:cofrap:ping-oidc' },
    });
    expect(
      await outcome(forHousekeeping, ISSUED_AT, {
        audience: 'cofrap/housekeeping',
        subjects: ['system:serviceaccount:cofrap:ping-oidc'],
      }),
    ).to.equal('system:serviceaccount:cofrap:ping-oidc');
    expect(
      await outcome(forHousekeeping, ISSUED_AT, { audience: 'cofrap/housekeeping', subjects: undefined }),
    ).to.equal('system:serviceaccount:cofrap:ping-oidc');
    expect(await outcome(forHousekeeping, ISSUED_AT)).to.equal('audience');
  });

  it('keys that cannot be fetched are KeysUnavailable, never an acceptance', async () => {
    const verify = createOidcVerifier({
      ...settings,
      jwksUrl: 'http://127.0.0.1:9/openid/v1/jwks',
      now: () => new Date(ISSUED_AT * 1000),
    });
    const refusal = await verify(await issuer.token()).then(
      () => 'accepted',
      (error: unknown) => error,
    );
    expect(refusal).to.be.instanceOf(KeysUnavailable);
  });
});

describe('employee-events: verified sender on postgres', function () {
  let issuer: TestIssuer;
  let tokenDir: string;
  let tokenFile: string;
  // The pod's service-account token, which the API server wants before it shows its keys.
  const serviceAccountToken = (): string => {
    const token = `sa-${randomBytes(24).toString('base64url')}`;
    rememberSecret(token, 'token');
    writeFileSync(tokenFile, `${token}\n`);
    issuer.requiredBearer = token;
    return token;
  };
  before(async () => {
    issuer = await TestIssuer.start();
    tokenDir = mkdtempSync(path.join(tmpdir(), 'cofrap-sa-'));
    tokenFile = path.join(tokenDir, 'token');
    serviceAccountToken();
  });
  // cooldown 0: a new kid is fetched at once, so the rotation test needs no waiting
  const live = useServer('postgres', () =>
    issuer.env({ EVENTS_OIDC_JWKS_TOKEN_FILE: tokenFile, EVENTS_OIDC_JWKS_COOLDOWN_SECONDS: '0' }),
  );
  after(async () => {
    await issuer.stop();
    rmSync(tokenDir, { recursive: true, force: true });
  });

  const send = (username: string, options: EventOptions & { requestId?: string } = {}): Promise<Answer> =>
    sendEmployeeEvent(
      `${live.url}/employee-events`,
      CREATED,
      { username },
      { ...options, headers: { 'x-request-id': options.requestId ?? randomUUID(), ...options.headers } },
    );

  it('a valid token from the broker → the event is handled: 200 and the invitation reply', async () => {
    const before = await counts(live);
    const answer = await send('ines.valid', { token: await issuer.token() });
    expect(answer.status, answer.text).to.equal(200);
    const reply = replyEvent(answer);
    expect(reply.type).to.equal('fr.cofrap.identity.account.invited');
    expect(reply.data?.username).to.equal('ines.valid');
    expect(await counts(live)).to.deep.equal({ users: before.users + 1, events: before.events + 1 });
    // the keys were asked for with the service-account token of EVENTS_OIDC_JWKS_TOKEN_FILE
    expect(issuer.jwksRequests.at(-1)).to.equal(`Bearer ${issuer.requiredBearer}`);
  });

  describe('forged or foreign tokens → 401 unauthenticated, one body, nothing written', () => {
    const other = newSigningKey();
    const forgeries: Array<{
      name: string;
      reason: RefusalReason;
      token?: () => Promise<string | null>;
      authorization?: string;
    }> = [
      { name: 'no token', reason: 'no_token', token: async () => null },
      { name: 'a Basic credential', reason: 'malformed', authorization: 'Basic aHI6aHI=' },
      { name: 'Bearer and nothing', reason: 'malformed', authorization: 'Bearer ' },
      { name: 'a token that is not a JWT', reason: 'malformed', token: async () => 'not-a-jwt' },
      {
        name: 'a wrong signature (claims changed after signing)',
        reason: 'signature',
        token: async () => tampered(await issuer.token(), { sub: issuer.subject, aud: 'cofrap/anything' }),
      },
      {
        name: 'another key under the published kid',
        reason: 'signature',
        token: async () => issuer.token({ key: { ...(await other), kid: issuer.currentKey.kid } }),
      },
      {
        name: 'another key under its own kid',
        reason: 'unknown_key',
        token: async () => issuer.token({ key: await other }),
      },
      {
        name: 'alg none',
        reason: 'algorithm',
        token: async () =>
          new UnsecuredJWT({
            iss: issuer.issuer,
            aud: issuer.audience,
            sub: issuer.subject,
            iat: ISSUED_AT,
            exp: EXPIRES_AT,
          }).encode(),
      },
      {
        name: 'HS256 with the public key as the secret',
        reason: 'algorithm',
        token: async () =>
          new SignJWT({
            iss: issuer.issuer,
            aud: issuer.audience,
            sub: issuer.subject,
            iat: ISSUED_AT,
            exp: EXPIRES_AT,
          })
            .setProtectedHeader({ alg: 'HS256', kid: issuer.currentKey.kid })
            .sign(new TextEncoder().encode(JSON.stringify(issuer.currentKey.publicJwk))),
      },
      {
        name: 'a wrong issuer',
        reason: 'issuer',
        token: async () => issuer.token({ claims: { iss: 'https://oidc.evil.example' } }),
      },
      {
        name: 'a wrong audience (another function’s)',
        reason: 'audience',
        token: async () => issuer.token({ claims: { aud: 'cofrap/housekeeping' } }),
      },
      {
        name: 'an expired token',
        reason: 'expired',
        token: async () =>
          issuer.token({ claims: { iat: ISSUED_AT - 7200, nbf: ISSUED_AT - 7200, exp: ISSUED_AT - 3600 } }),
      },
      {
        name: 'a token not yet valid',
        reason: 'not_yet_valid',
        token: async () => issuer.token({ claims: { nbf: EXPIRES_AT - 3600 } }),
      },
      {
        name: 'a subject that is not the broker',
        reason: 'subject',
        token: async () => issuer.token({ claims: { sub: 'system:serviceaccount:cofrap:mallory' } }),
      },
      { name: 'no subject', reason: 'claims', token: async () => issuer.token({ claims: { sub: undefined } }) },
      { name: 'no expiry', reason: 'claims', token: async () => issuer.token({ claims: { exp: undefined } }) },
    ];

    for (const forgery of forgeries) {
      it(`${forgery.name} → 401 (log reason: ${forgery.reason})`, async () => {
        const before = await counts(live);
        const token = forgery.token === undefined ? null : await forgery.token();
        if (token !== null) rememberSecret(token, 'token');
        const requestId = randomUUID();
        const headers: Record<string, string> =
          forgery.authorization === undefined ? {} : { authorization: forgery.authorization };
        const answer = await send(`forged.${before.users}`, { token, requestId, headers });
        expectUnauthenticated(answer);
        expect(await counts(live)).to.deep.equal(before);
        const refused = await logLine(live.process, requestId, 'event_sender_refused');
        expect(refused.reason).to.equal(forgery.reason);
        expect(refused.level).to.equal('warn');
        if (forgery.reason === 'subject') expect(refused.subject).to.equal('system:serviceaccount:cofrap:mallory');
        if (token !== null) expect(live.process.output.join('\n')).to.not.contain(token);
      });
    }
  });

  it('the token is checked before the body is read: 100 KiB without a token → 401, not 413', async () => {
    const before = await counts(live);
    const body = JSON.stringify({ username: 'big.body', padding: 'x'.repeat(100 * 1024) });
    const headers = {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': randomUUID(),
      'ce-source': issuer.sources[0] as string,
      'ce-type': CREATED,
    };
    expectUnauthenticated(await request(`${live.url}/employee-events`, { method: 'POST', headers, body }));
    // and plain JSON that is no CloudEvent at all: refused for the token, not parsed
    expectUnauthenticated(await postJson(`${live.url}/employee-events`, { username: 'x' }));
    expect(await counts(live)).to.deep.equal(before);
  });

  it('a source not in HR_EVENT_SOURCES → 403 forbidden, nothing written', async () => {
    const before = await counts(live);
    const requestId = randomUUID();
    const answer = await send('mallory', { token: await issuer.token(), source: '/hr/forger', requestId });
    expect(answer.status, answer.text).to.equal(403);
    expect(answer.body).to.deep.equal({ error: 'Events from this source are not accepted.', code: 'forbidden' });
    expect(await counts(live)).to.deep.equal(before);
    expect((await logLine(live.process, requestId, 'event_source_refused')).source).to.equal('/hr/forger');
    // the helpdesk's source is one of them
    expect((await send('ines.helpdesk', { token: await issuer.token(), source: '/it/helpdesk' })).status).to.equal(200);
  });

  it('a rotated key (new kid) is picked up when the JWKS publishes it; a retired key stops verifying', async () => {
    const old = issuer.currentKey;
    const fetches = issuer.jwksRequests.length;
    await issuer.rotate({ retire: true, alg: 'ES256' });
    const answer = await send('ines.rotated', { token: await issuer.token() });
    expect(answer.status, answer.text).to.equal(200);
    expect(issuer.jwksRequests.length).to.be.greaterThan(fetches);
    expectUnauthenticated(await send('ines.old.key', { token: await issuer.token({ key: old }) }));
  });

  it('the JWKS bearer token is read again at each fetch (the kubelet replaces it)', async () => {
    const renewed = serviceAccountToken();
    await issuer.rotate({ retire: true });
    expect((await send('ines.renewed.sa', { token: await issuer.token() })).status).to.equal(200);
    expect(issuer.jwksRequests.at(-1)).to.equal(`Bearer ${renewed}`);
  });

  it('JWKS unreachable → 503 unavailable with Retry-After and nothing written; back → accepted', async () => {
    await issuer.stop();
    try {
      await issuer.rotate({ retire: true });
      const token = await issuer.token();
      const before = await counts(live);
      const requestId = randomUUID();
      const answer = await send('ines.outage', { token, requestId });
      expect(answer.status, answer.text).to.equal(503);
      expect(answer.body.code).to.equal('unavailable');
      expect(Number(answer.headers.get('retry-after'))).to.be.greaterThan(0);
      expect(await counts(live)).to.deep.equal(before);
      const logged = await logLine(live.process, requestId, 'event_sender_keys_unavailable');
      expect(logged.cause_code).to.equal('ECONNREFUSED');
      expect(logged.jwks).to.equal(issuer.jwksUrl);
    } finally {
      await issuer.resume();
    }
    expect((await send('ines.outage', { token: await issuer.token() })).status).to.equal(200);
  });
});

describe('employee-events: a JWKS never reached since start on postgres', function () {
  let issuer: TestIssuer;
  before(async () => {
    issuer = await TestIssuer.start();
    await issuer.stop();
  });
  const live = useServer('postgres', () => issuer.env());

  it('a well-signed token → 503, nothing written: keys that cannot be fetched never mean "accept"', async () => {
    const before = await counts(live);
    const answer = await sendEmployeeEvent(
      `${live.url}/employee-events`,
      CREATED,
      { username: 'cold.start' },
      { token: await issuer.token() },
    );
    expect(answer.status, answer.text).to.equal(503);
    expect(answer.headers.get('retry-after')).to.match(/^[1-9]\d*$/);
    expect(await counts(live)).to.deep.equal(before);
  });
});

// Without sender settings, the embedded mode's warning and what it accepts are
// test/employee-events.test.ts's, on its PGlite server.
describe('employee-events in embedded mode (npm start)', function () {
  describe('with sender settings', () => {
    let issuer: TestIssuer;
    before(async () => {
      issuer = await TestIssuer.start();
    });
    const live = useServer('pglite', () => issuer.env());
    after(() => issuer.stop());

    it('checks them as on a real server, and warns about nothing', async () => {
      expect(live.process.output.join('\n')).to.not.contain('events_unchecked');
      expectUnauthenticated(
        await sendEmployeeEvent(`${live.url}/employee-events`, CREATED, { username: 'dev.unsigned' }, { token: null }),
      );
      expect(
        (
          await sendEmployeeEvent(
            `${live.url}/employee-events`,
            CREATED,
            { username: 'dev.other' },
            { token: await issuer.token(), source: '/my/laptop' },
          )
        ).status,
      ).to.equal(403);
      expect(
        (
          await sendEmployeeEvent(
            `${live.url}/employee-events`,
            CREATED,
            { username: 'dev.signed' },
            { token: await issuer.token() },
          )
        ).status,
      ).to.equal(200);
      // neither refused event created its account: self-registration finds the names free
      expect((await postJson(`${live.url}/generate-password`, { username: 'dev.unsigned' })).status).to.equal(201);
      expect((await postJson(`${live.url}/generate-password`, { username: 'dev.other' })).status).to.equal(201);
    });
  });
});
