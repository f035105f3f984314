// The HTTP envelope every JSON function shares, in-process (test/helpers/in-process.ts):
// every row of the contract's status table, CORS, the probes and /openapi.json, and
// self-registration turned off. Real HTTP to the app bin/dev-server.js builds, on a real
// PostgreSQL; functions.test.ts runs a few of these rows end to end on both databases.
import { expect } from 'chai';
import { useInProcessServer } from './helpers/in-process.js';
import { postJson, request } from './helpers/http.js';
import type { Answer } from './helpers/http.js';

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).to.equal(status);
  expect(answer.body.code, answer.text).to.equal(code);
  expect(answer.body.error).to.be.a('string').and.not.equal('');
  expect(answer.text).to.not.match(/at .*\.js|SELECT|INSERT|UPDATE|\$2[ab]\$/);
}

describe('the HTTP envelope in-process on postgres', function () {
  const live = useInProcessServer();

  describe('bad input gets a clear error and changes nothing', () => {
    const json = { 'content-type': 'application/json' };
    const cases: Array<
      [
        string,
        string,
        { method?: string; headers?: Record<string, string>; body?: string | Uint8Array },
        number,
        string,
        RegExp?,
      ]
    > = [
      ['GET', 'generate-password', { method: 'GET' }, 405, 'method_not_allowed'],
      ['PUT', 'authenticate', { method: 'PUT', headers: json, body: '{}' }, 405, 'method_not_allowed'],
      ['DELETE', 'generate-2fa', { method: 'DELETE' }, 405, 'method_not_allowed'],
      [
        'text/plain',
        'generate-password',
        { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"username":"x"}' },
        415,
        'unsupported_media_type',
      ],
      [
        'form',
        'authenticate',
        { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=x' },
        415,
        'unsupported_media_type',
      ],
      ['no content type', 'generate-2fa', { method: 'POST', body: '{}' }, 415, 'unsupported_media_type'],
      [
        '16 KiB + 1',
        'generate-password',
        {
          method: 'POST',
          headers: json,
          body: JSON.stringify({
            username: 'big',
            pad: 'x'.repeat(16 * 1024 + 1 - '{"username":"big","pad":""}'.length),
          }),
        },
        413,
        'payload_too_large',
      ],
      [
        'invalid JSON',
        'generate-password',
        { method: 'POST', headers: json, body: '{"username": ' },
        400,
        'invalid_request',
        /JSON/,
      ],
      ['empty body', 'authenticate', { method: 'POST', headers: json, body: '' }, 400, 'invalid_request', /JSON/],
      [
        'JSON array',
        'generate-password',
        { method: 'POST', headers: json, body: '["alice"]' },
        400,
        'invalid_request',
        /object/,
      ],
      [
        'JSON string',
        'generate-password',
        { method: 'POST', headers: json, body: '"alice"' },
        400,
        'invalid_request',
        /object/,
      ],
      ['JSON null', 'authenticate', { method: 'POST', headers: json, body: 'null' }, 400, 'invalid_request', /object/],
      [
        'invalid UTF-8',
        'generate-password',
        {
          method: 'POST',
          headers: json,
          body: Buffer.from([...Buffer.from('{"username":"'), 0xff, ...Buffer.from('"}')]),
        },
        400,
        'invalid_request',
      ],
      [
        'missing username',
        'generate-password',
        { method: 'POST', headers: json, body: '{}' },
        400,
        'invalid_request',
        /username/,
      ],
      [
        'username number',
        'generate-password',
        { method: 'POST', headers: json, body: '{"username":42}' },
        400,
        'invalid_request',
        /username/,
      ],
      [
        'username empty',
        'generate-password',
        { method: 'POST', headers: json, body: '{"username":"  "}' },
        400,
        'invalid_request',
        /username/,
      ],
      [
        'username 65 chars',
        'generate-password',
        { method: 'POST', headers: json, body: JSON.stringify({ username: 'a'.repeat(65) }) },
        400,
        'invalid_request',
        /username/,
      ],
      [
        'username with space',
        'generate-password',
        { method: 'POST', headers: json, body: '{"username":"jean dupont"}' },
        400,
        'invalid_request',
        /username/,
      ],
      [
        'username with quote',
        'generate-password',
        { method: 'POST', headers: json, body: JSON.stringify({ username: "o'neil;--" }) },
        400,
        'invalid_request',
        /username/,
      ],
      [
        'unknown field',
        'generate-password',
        { method: 'POST', headers: json, body: '{"username":"x","renewalToken":"t"}' },
        400,
        'invalid_request',
        /renewalToken/,
      ],
      [
        'token number',
        'generate-password',
        { method: 'POST', headers: json, body: '{"username":"x","renewal_token":1}' },
        400,
        'invalid_request',
        /renewal_token/,
      ],
      [
        'missing password',
        'authenticate',
        { method: 'POST', headers: json, body: '{"username":"x","totp":"123456"}' },
        400,
        'invalid_request',
        /password/,
      ],
      [
        'password number',
        'authenticate',
        { method: 'POST', headers: json, body: '{"username":"x","password":1,"totp":"123456"}' },
        400,
        'invalid_request',
        /password/,
      ],
      [
        'missing totp',
        'authenticate',
        { method: 'POST', headers: json, body: '{"username":"x","password":"p"}' },
        400,
        'invalid_request',
        /totp/,
      ],
      [
        '5-digit code',
        'authenticate',
        { method: 'POST', headers: json, body: '{"username":"x","password":"p","totp":"12345"}' },
        400,
        'invalid_request',
        /totp/,
      ],
      [
        'non-numeric code',
        'authenticate',
        { method: 'POST', headers: json, body: '{"username":"x","password":"p","totp":"12a456"}' },
        400,
        'invalid_request',
        /totp/,
      ],
      [
        'numeric code',
        'authenticate',
        { method: 'POST', headers: json, body: '{"username":"x","password":"p","totp":123456}' },
        400,
        'invalid_request',
        /totp/,
      ],
    ];
    for (const [label, fn, init, status, code, message] of cases) {
      it(`${fn}: ${label} → ${status} ${code}`, async () => {
        const answer = await request(`${live.url}/${fn}`, init);
        expectError(answer, status, code);
        if (message) expect(answer.body.error).to.match(message);
        if (status === 405) expect(answer.headers.get('allow')).to.equal('POST');
      });
    }

    it('OPTIONS is 405 when no CORS origin is configured', async () => {
      const answer = await request(`${live.url}/authenticate`, {
        method: 'OPTIONS',
        headers: { origin: 'https://x.example', 'access-control-request-method': 'POST' },
      });
      expectError(answer, 405, 'method_not_allowed');
      expect(answer.headers.get('access-control-allow-origin')).to.equal(null);
    });

    it('accepts a charset parameter on the JSON media type', async () => {
      const answer = await request(`${live.url}/generate-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: '{"username":"charset.ok"}',
      });
      expect(answer.status, answer.text).to.equal(201);
    });

    it('refused requests create no account', async () => {
      const refused: Array<[string, number]> = [
        [JSON.stringify({ username: 'refused.big', pad: 'x'.repeat(16 * 1024) }), 413],
        ['{"username":"refused.field","renewalToken":"t"}', 400],
        ['{"username":"refused.token","renewal_token":1}', 400],
      ];
      for (const [body, status] of refused)
        expect(
          (await request(`${live.url}/generate-password`, { method: 'POST', headers: json, body })).status,
          body.slice(0, 60),
        ).to.equal(status);
      expect(
        (
          await request(`${live.url}/generate-password`, {
            method: 'POST',
            headers: { 'content-type': 'text/plain' },
            body: '{"username":"refused.type"}',
          })
        ).status,
      ).to.equal(415);
      const names = ['refused.big', 'refused.field', 'refused.token', 'refused.type'];
      expect(await live.backend.sql('SELECT username FROM users WHERE username = ANY($1)', [names])).to.deep.equal([]);
      // and each can still be created: nothing was half-made either
      for (const username of names)
        expect((await postJson(`${live.url}/generate-password`, { username })).status, username).to.equal(201);
    });

    it('a 400 does not count towards the throttle', async () => {
      for (let i = 0; i < 8; i++)
        expectError(
          await postJson(`${live.url}/authenticate`, { username: 'gina', password: 'p', totp: '1' }),
          400,
          'invalid_request',
        );
      expect(await live.backend.sql("SELECT failures FROM auth_throttle WHERE username = 'gina'")).to.deep.equal([]);
      expectError(
        await postJson(`${live.url}/authenticate`, { username: 'gina', password: 'p', totp: '123456' }),
        401,
        'invalid_credentials',
      );
    });
  });

  describe('probes and description', () => {
    it('serves openapi.yaml as /openapi.json', async () => {
      const { OPENAPI_DOCUMENT } = await import('../lib/openapi.js');
      const answer = await request(`${live.url}/openapi.json`);
      expect(answer.status).to.equal(200);
      expect(answer.body).to.deep.equal(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
    });

    it('answers /healthz and /readyz at the root and under each function', async () => {
      for (const path of [
        '/healthz',
        '/readyz',
        '/generate-password/healthz',
        '/generate-2fa/readyz',
        '/authenticate/readyz',
        '/employee-events/healthz',
        '/housekeeping/readyz',
      ]) {
        const answer = await request(`${live.url}${path}`);
        expect(answer.status, path).to.equal(200);
        expect(answer.headers.get('cache-control'), path).to.equal('no-store');
      }
    });

    it('readiness checks asked for at once share one check: a flood of /readyz costs the database one at a time', async () => {
      const { readiness } = await import('../lib/runtime.js');
      const db = live.runtime.db;
      const statements: string[] = [];
      const query = db.query.bind(db);
      db.query = (text, params) => {
        statements.push(text);
        return query(text, params);
      };
      try {
        const asked = Array.from({ length: 50 }, () => readiness(live.runtime));
        expect(new Set(asked).size, 'checks in flight').to.equal(1);
        expect(await asked[0]).to.deep.equal({ ready: true });
        const oneCheck = statements.length;
        expect(oneCheck).to.be.greaterThan(0);
        // Once it has answered, the next probe checks again: nothing is cached.
        const next = readiness(live.runtime);
        expect(next).to.not.equal(asked[0]);
        expect(await next).to.deep.equal({ ready: true });
        expect(statements.length).to.equal(2 * oneCheck);
      } finally {
        db.query = query;
      }
    });

    it('/readyz says not ready while the schema is not the expected version', async () => {
      await live.backend.sql(
        'UPDATE schema_migrations SET version = version + 1000 WHERE version = (SELECT max(version) FROM schema_migrations)',
      );
      try {
        const answer = await request(`${live.url}/readyz`);
        expectError(answer, 503, 'unavailable');
        expect(answer.body.error).to.match(/schema version/);
        expect((await request(`${live.url}/healthz`)).status).to.equal(200);
      } finally {
        await live.backend.sql('UPDATE schema_migrations SET version = version - 1000 WHERE version > 1000');
      }
      expect((await request(`${live.url}/readyz`)).status).to.equal(200);
    });
  });
});

describe('self-registration off, CORS on, in-process on postgres', function () {
  const live = useInProcessServer({
    SELF_REGISTRATION: 'false',
    CORS_ALLOWED_ORIGINS: 'https://portal.cofrap.example',
  });

  it('refuses to create an uninvited account', async () => {
    expectError(await postJson(`${live.url}/generate-password`, { username: 'walk.in' }), 401, 'invalid_token');
    expectError(
      await postJson(`${live.url}/generate-password`, { username: 'walk.in', invitation_token: 'guess' }),
      401,
      'invalid_token',
    );
    expect(await live.backend.sql("SELECT username FROM users WHERE username = 'walk.in'")).to.deep.equal([]);
  });

  it('answers a CORS preflight for a configured origin only', async () => {
    const preflight = (origin: string): Promise<Answer> =>
      request(`${live.url}/authenticate`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight('https://portal.cofrap.example');
    expect(allowed.status).to.equal(204);
    expect(allowed.headers.get('access-control-allow-origin')).to.equal('https://portal.cofrap.example');
    expect(allowed.headers.get('access-control-allow-methods')).to.contain('POST');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).to.equal(null);
    const post = await postJson(
      `${live.url}/authenticate`,
      { username: 'x', password: 'y', totp: '123456' },
      { origin: 'https://portal.cofrap.example' },
    );
    expect(post.status).to.equal(401);
    expect(post.headers.get('access-control-allow-origin')).to.equal('https://portal.cofrap.example');
  });
});
