// The three functions over real HTTP on the development server, on both databases: the
// whole journey, every row of the contract's status table, the lifecycle, concurrency.
import { expect } from 'chai';
import { BACKENDS, useServer } from './helpers/backends.js';
import { postJson, request } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import { codeAt, currentStep, stepWithMargin } from './helpers/totp.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).to.equal(status);
  expect(answer.body.code, answer.text).to.equal(code);
  expect(answer.body.error).to.be.a('string').and.not.equal('');
  expect(answer.text).to.not.match(/at .*\.js|SELECT|INSERT|UPDATE|\$2[ab]\$/);
}

for (const kind of BACKENDS) {
  describe(`functions on ${kind}`, function () {
    const live = useServer(kind);
    let base: string;
    before(() => {
      base = live.url;
    });

    describe('the journey', () => {
      it('create → 2FA → first code activates → later codes sign in', async () => {
        const first = await stepWithMargin();
        const created = await postJson(`${base}/generate-password`, { username: ' Alice.Martin ' });
        expect(created.status).to.equal(201);
        expect(created.body).to.have.keys('message', 'username', 'qr_code_base64', 'enrollment_token', 'enrollment_expires_at');
        expect(created.body.username).to.equal('alice.martin');
        expect(created.headers.get('cache-control')).to.equal('no-store');
        expectError(await postJson(`${base}/generate-password`, { username: 'ALICE.martin' }), 409, 'account_exists');

        const { secret, answer } = await enroll(base, 'alice.martin', created.body.enrollment_token as string);
        expect(answer.body).to.have.keys('message', 'username', 'qr_code_2fa_base64', 'manual_entry_key', 'otpauth_uri', 'recovery_codes');
        expect(answer.body.manual_entry_key).to.match(/^[A-Z2-7]{32}$/);
        const uri = new URL(answer.body.otpauth_uri as string);
        expect(uri.searchParams.get('issuer')).to.equal('COFRAP Secure');

        const { decodeQrPng } = await import('./helpers/qr.js');
        const qrPassword = decodeQrPng(created.body.qr_code_base64 as string);
        expect(qrPassword).to.have.length(24);

        const activated = await signIn(base, 'Alice.Martin', qrPassword, secret, first - 1);
        expect(activated.status, activated.text).to.equal(200);
        expect(activated.body).to.include({ authenticated: true, username: 'alice.martin' });
        const expiresAt = new Date(activated.body.expires_at as string);
        const sixMonths = new Date(Date.now());
        sixMonths.setMonth(sixMonths.getMonth() + 6);
        expect(Math.abs(expiresAt.getTime() - sixMonths.getTime())).to.be.lessThan(3 * 86_400_000);

        const again = await signIn(base, 'alice.martin', qrPassword, secret, first);
        expect(again.status, again.text).to.equal(200);
        const replay = await signIn(base, 'alice.martin', qrPassword, secret, first);
        expectError(replay, 401, 'invalid_credentials');
        const older = await signIn(base, 'alice.martin', qrPassword, secret, first - 1);
        expectError(older, 401, 'invalid_credentials');
        const next = await signIn(base, 'alice.martin', qrPassword, secret, first + 1);
        expect(next.status, next.text).to.equal(200);
      });

      it('a pending account is not active before its first code; generate-2fa answers one secret per token', async () => {
        const step = await stepWithMargin();
        const account = await createAndEnroll(base, 'pending.pat');
        // pending: generate-2fa still answers with the token (a redo of a lost scan), the same secret
        const redo = await enroll(base, 'pending.pat', account.enrollmentToken);
        expect(redo.secret).to.equal(account.secret);
        expect((await signIn(base, 'pending.pat', account.password, redo.secret, step)).status).to.equal(200);
        // after the first code the token is spent: the one refusal for every token
        expectError(await postJson(`${base}/generate-2fa`, { username: 'pending.pat', enrollment_token: account.enrollmentToken }), 401, 'invalid_token');
      });
    });

    describe('takeover and tokens', () => {
      it('never recreates or resets an existing account by username alone', async () => {
        const step = await stepWithMargin();
        const account = await createAndEnroll(base, 'bob');
        expectError(await postJson(`${base}/generate-password`, { username: 'bob' }), 409, 'account_exists');
        expectError(await postJson(`${base}/generate-password`, { username: 'BOB ' }), 409, 'account_exists');
        expect((await signIn(base, 'bob', account.password, account.secret, step)).status).to.equal(200);
        expectError(await postJson(`${base}/generate-password`, { username: 'bob' }), 409, 'account_exists');
        expectError(await postJson(`${base}/generate-password`, { username: 'bob', renewal_token: 'made-up' }), 401, 'invalid_token');
        expect((await signIn(base, 'bob', account.password, account.secret, step + 1)).status).to.equal(200);
      });

      it('ties generate-2fa to the enrollment token of that user', async () => {
        const carol = await createAccount(base, 'carol');
        const dave = await createAccount(base, 'dave');
        expectError(await postJson(`${base}/generate-2fa`, { username: 'carol', enrollment_token: dave.enrollmentToken }), 401, 'invalid_token');
        expectError(await postJson(`${base}/generate-2fa`, { username: 'carol' }), 401, 'invalid_token');
        expectError(await postJson(`${base}/generate-2fa`, { username: 'carol', enrollment_token: '' }), 401, 'invalid_token');
        expectError(await postJson(`${base}/generate-2fa`, { username: 'nobody', enrollment_token: carol.enrollmentToken }), 401, 'invalid_token');
        expectError(await postJson(`${base}/generate-2fa`, { username: 'carol', enrollment_token: 5 }), 400, 'invalid_request');
        const unknownBody = (await postJson(`${base}/generate-2fa`, { username: 'nobody', enrollment_token: 'x' })).text;
        const wrongBody = (await postJson(`${base}/generate-2fa`, { username: 'carol', enrollment_token: 'x' })).text;
        expect(unknownBody).to.equal(wrongBody);
        await enroll(base, 'carol', carol.enrollmentToken);
      });

      it('answers one identical body for an unknown user, a wrong password and a wrong code', async () => {
        const step = await stepWithMargin();
        const erin = await createAndEnroll(base, 'erin');
        const wrongCode = codeAt(erin.secret, step) === '000000' ? '111111' : '000000';
        const answers = await Promise.all([
          postJson(`${base}/authenticate`, { username: 'no-such-user', password: erin.password, totp: codeAt(erin.secret, step) }),
          postJson(`${base}/authenticate`, { username: 'erin', password: erin.password + 'x', totp: codeAt(erin.secret, step) }),
          postJson(`${base}/authenticate`, { username: 'erin', password: erin.password, totp: wrongCode }),
        ]);
        for (const answer of answers) expectError(answer, 401, 'invalid_credentials');
        expect(new Set(answers.map((a) => a.text)).size).to.equal(1);
        // an account that never enrolled a second factor cannot sign in with its password alone
        const frank = await createAccount(base, 'frank');
        expectError(await postJson(`${base}/authenticate`, { username: 'frank', password: frank.password, totp: '123456' }), 401, 'invalid_credentials');
      });
    });

    describe('bad input gets a clear error and changes nothing', () => {
      const json = { 'content-type': 'application/json' };
      const cases: Array<[string, string, { method?: string; headers?: Record<string, string>; body?: string | Uint8Array }, number, string, RegExp?]> = [
        ['GET', 'generate-password', { method: 'GET' }, 405, 'method_not_allowed'],
        ['PUT', 'authenticate', { method: 'PUT', headers: json, body: '{}' }, 405, 'method_not_allowed'],
        ['DELETE', 'generate-2fa', { method: 'DELETE' }, 405, 'method_not_allowed'],
        ['text/plain', 'generate-password', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"username":"x"}' }, 415, 'unsupported_media_type'],
        ['form', 'authenticate', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=x' }, 415, 'unsupported_media_type'],
        ['no content type', 'generate-2fa', { method: 'POST', body: '{}' }, 415, 'unsupported_media_type'],
        ['16 KiB + 1', 'generate-password', { method: 'POST', headers: json, body: JSON.stringify({ username: 'big', pad: 'x'.repeat(16 * 1024 + 1 - '{"username":"big","pad":""}'.length) }) }, 413, 'payload_too_large'],
        ['invalid JSON', 'generate-password', { method: 'POST', headers: json, body: '{"username": ' }, 400, 'invalid_request', /JSON/],
        ['empty body', 'authenticate', { method: 'POST', headers: json, body: '' }, 400, 'invalid_request', /JSON/],
        ['JSON array', 'generate-password', { method: 'POST', headers: json, body: '["alice"]' }, 400, 'invalid_request', /object/],
        ['JSON string', 'generate-password', { method: 'POST', headers: json, body: '"alice"' }, 400, 'invalid_request', /object/],
        ['JSON null', 'authenticate', { method: 'POST', headers: json, body: 'null' }, 400, 'invalid_request', /object/],
        ['invalid UTF-8', 'generate-password', { method: 'POST', headers: json, body: Buffer.from([...Buffer.from('{"username":"'), 0xff, ...Buffer.from('"}')]) }, 400, 'invalid_request'],
        ['missing username', 'generate-password', { method: 'POST', headers: json, body: '{}' }, 400, 'invalid_request', /username/],
        ['username number', 'generate-password', { method: 'POST', headers: json, body: '{"username":42}' }, 400, 'invalid_request', /username/],
        ['username empty', 'generate-password', { method: 'POST', headers: json, body: '{"username":"  "}' }, 400, 'invalid_request', /username/],
        ['username 65 chars', 'generate-password', { method: 'POST', headers: json, body: JSON.stringify({ username: 'a'.repeat(65) }) }, 400, 'invalid_request', /username/],
        ['username with space', 'generate-password', { method: 'POST', headers: json, body: '{"username":"jean dupont"}' }, 400, 'invalid_request', /username/],
        ['username with quote', 'generate-password', { method: 'POST', headers: json, body: JSON.stringify({ username: "o'neil;--" }) }, 400, 'invalid_request', /username/],
        ['unknown field', 'generate-password', { method: 'POST', headers: json, body: '{"username":"x","renewalToken":"t"}' }, 400, 'invalid_request', /renewalToken/],
        ['token number', 'generate-password', { method: 'POST', headers: json, body: '{"username":"x","renewal_token":1}' }, 400, 'invalid_request', /renewal_token/],
        ['missing password', 'authenticate', { method: 'POST', headers: json, body: '{"username":"x","totp":"123456"}' }, 400, 'invalid_request', /password/],
        ['password number', 'authenticate', { method: 'POST', headers: json, body: '{"username":"x","password":1,"totp":"123456"}' }, 400, 'invalid_request', /password/],
        ['missing totp', 'authenticate', { method: 'POST', headers: json, body: '{"username":"x","password":"p"}' }, 400, 'invalid_request', /totp/],
        ['5-digit code', 'authenticate', { method: 'POST', headers: json, body: '{"username":"x","password":"p","totp":"12345"}' }, 400, 'invalid_request', /totp/],
        ['non-numeric code', 'authenticate', { method: 'POST', headers: json, body: '{"username":"x","password":"p","totp":"12a456"}' }, 400, 'invalid_request', /totp/],
        ['numeric code', 'authenticate', { method: 'POST', headers: json, body: '{"username":"x","password":"p","totp":123456}' }, 400, 'invalid_request', /totp/],
      ];
      for (const [label, fn, init, status, code, message] of cases) {
        it(`${fn}: ${label} → ${status} ${code}`, async () => {
          const answer = await request(`${base}/${fn}`, init);
          expectError(answer, status, code);
          if (message) expect(answer.body.error).to.match(message);
          if (status === 405) expect(answer.headers.get('allow')).to.equal('POST');
        });
      }

      it('OPTIONS is 405 when no CORS origin is configured', async () => {
        const answer = await request(`${base}/authenticate`, { method: 'OPTIONS', headers: { origin: 'https://x.example', 'access-control-request-method': 'POST' } });
        expectError(answer, 405, 'method_not_allowed');
        expect(answer.headers.get('access-control-allow-origin')).to.equal(null);
      });

      it('accepts a charset parameter on the JSON media type', async () => {
        const answer = await request(`${base}/generate-password`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"username":"charset.ok"}' });
        expect(answer.status, answer.text).to.equal(201);
      });

      it('refused requests created no account', async () => {
        for (const username of ['big', 'x', 'jean dupont']) {
          expect((await postJson(`${base}/generate-password`, { username: username.replace(' ', '.') })).status).to.equal(201);
        }
      });

      it('a 400 does not count towards the throttle', async () => {
        for (let i = 0; i < 8; i++) expectError(await postJson(`${base}/authenticate`, { username: 'gina', password: 'p', totp: '1' }), 400, 'invalid_request');
        expectError(await postJson(`${base}/authenticate`, { username: 'gina', password: 'p', totp: '123456' }), 401, 'invalid_credentials');
      });
    });

    describe('throttling', () => {
      it('refuses with 429 and Retry-After after 5 consecutive failures from one address, even the right password', async () => {
        const step = await stepWithMargin();
        const hank = await createAndEnroll(base, 'hank');
        for (let i = 0; i < 5; i++) expectError(await postJson(`${base}/authenticate`, { username: 'hank', password: 'wrong', totp: '000000' }), 401, 'invalid_credentials');
        const locked = await signIn(base, 'hank', hank.password, hank.secret, step);
        expectError(locked, 429, 'too_many_requests');
        const retryAfter = Number(locked.headers.get('retry-after'));
        expect(retryAfter).to.be.within(1, 30);
        // the lock is this address's (the TCP peer: no proxy is trusted here), and a client
        // cannot pick another key by writing X-Forwarded-For itself
        const forged = await postJson(`${base}/authenticate`, { username: 'hank', password: 'wrong', totp: '000000' }, { 'x-forwarded-for': '203.0.113.9' });
        expectError(forged, 429, 'too_many_requests');
        // an unknown username is throttled the same way
        for (let i = 0; i < 5; i++) expectError(await postJson(`${base}/authenticate`, { username: 'ghost', password: 'x', totp: '000000' }), 401, 'invalid_credentials');
        expectError(await postJson(`${base}/authenticate`, { username: 'ghost', password: 'x', totp: '000000' }), 429, 'too_many_requests');
      });

      it('a success resets the count', async () => {
        const step = await stepWithMargin();
        const ivy = await createAndEnroll(base, 'ivy');
        for (let i = 0; i < 4; i++) expectError(await postJson(`${base}/authenticate`, { username: 'ivy', password: 'wrong', totp: '000000' }), 401, 'invalid_credentials');
        expect((await signIn(base, 'ivy', ivy.password, ivy.secret, step)).status).to.equal(200);
        for (let i = 0; i < 4; i++) expectError(await postJson(`${base}/authenticate`, { username: 'ivy', password: 'wrong', totp: '000000' }), 401, 'invalid_credentials');
        expect((await signIn(base, 'ivy', ivy.password, ivy.secret, step + 1)).status).to.equal(200);
      });
    });

    describe('concurrency', () => {
      it('50 simultaneous creations of one username make one account and 49 × 409', async () => {
        const answers = await Promise.all(Array.from({ length: 50 }, () => postJson(`${base}/generate-password`, { username: 'race.user' })));
        const statuses = answers.map((a) => a.status);
        expect(statuses.filter((s) => s === 201)).to.have.length(1);
        expect(statuses.filter((s) => s === 409)).to.have.length(49);
        const winner = answers.find((a) => a.status === 201) as Answer;
        // the winner's token and password are the ones stored
        const { secret } = await enroll(base, 'race.user', winner.body.enrollment_token as string);
        const { decodeQrPng } = await import('./helpers/qr.js');
        const step = await stepWithMargin();
        expect((await signIn(base, 'race.user', decodeQrPng(winner.body.qr_code_base64 as string), secret, step)).status).to.equal(200);
      });

      it('two simultaneous sign-ins with one code: one 200, one 401', async () => {
        const step = await stepWithMargin();
        const jo = await createAndEnroll(base, 'jo');
        expect((await signIn(base, 'jo', jo.password, jo.secret, step - 1)).status).to.equal(200);
        const pair = await Promise.all([signIn(base, 'jo', jo.password, jo.secret, step), signIn(base, 'jo', jo.password, jo.secret, step)]);
        expect(pair.map((a) => a.status).sort()).to.deep.equal([200, 401]);
        if (kind === 'postgres') {
          const [row] = await live.backend.sql<{ status: string; last_totp_step: number }>("SELECT status, last_totp_step FROM users WHERE username = 'jo'");
          expect(row).to.deep.equal({ status: 'active', last_totp_step: step });
        }
      });

      it('answers /healthz while password hashes are running', async () => {
        const hashes = Array.from({ length: 6 }, (_, i) => postJson(`${base}/generate-password`, { username: `busy${i}` }).then(() => Date.now()));
        await sleep(20);
        const health = await request(`${base}/healthz`);
        const answeredAt = Date.now();
        expect(health.status).to.equal(200);
        expect(health.body).to.deep.equal({ status: 'ok' });
        const finished = await Promise.all(hashes);
        // /healthz came back before the last hash finished: the event loop was free.
        expect(answeredAt).to.be.at.most(Math.max(...finished));
      });
    });

    describe('probes and description', () => {
      it('serves openapi.yaml as /openapi.json', async () => {
        const { OPENAPI_DOCUMENT } = await import('../lib/openapi.js');
        const answer = await request(`${base}/openapi.json`);
        expect(answer.status).to.equal(200);
        expect(answer.body).to.deep.equal(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
      });


      it('answers /healthz and /readyz at the root and under each function', async () => {
        for (const path of ['/healthz', '/readyz', '/generate-password/healthz', '/authenticate/readyz']) {
          const answer = await request(`${base}${path}`);
          expect(answer.status, path).to.equal(200);
        }
      });
    });

    describe('logs', () => {
      it('are one JSON object per line with a request id, and carry no secret', async () => {
        const step = await stepWithMargin();
        const kim = await createAndEnroll(base, 'kim');
        const signedIn = await signIn(base, 'kim', kim.password, kim.secret, step);
        expect(signedIn.status).to.equal(200);
        await sleep(100);
        const lines = live.process.output.filter((line) => line.startsWith('{'));
        expect(lines.length).to.be.greaterThan(10);
        for (const line of lines) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          expect(entry).to.include.keys('time', 'level', 'event');
          if (entry.event === 'request') expect(entry.request_id).to.be.a('string');
        }
        const all = live.process.output.join('\n');
        for (const secret of [kim.password, kim.secret, kim.enrollmentToken, codeAt(kim.secret, step)]) expect(all).to.not.contain(secret);
        expect(all).to.not.match(/\$2[ab]\$\d\d\$/);
        expect(all).to.not.contain('gAAAAA');
      });
    });
  });

  describe(`lifecycle with short clocks on ${kind}`, function () {
    const live = useServer(kind, { CREDENTIAL_MAX_AGE: '6 seconds', ENROLLMENT_TTL: '3 seconds', RENEWAL_TTL: '3 seconds' });
    let base: string;
    before(() => {
      base = live.url;
    });

    it('a lapsed enrollment may start over with a fresh password; its token is dead', async () => {
      const first = await createAccount(base, 'lapsed');
      expectError(await postJson(`${base}/generate-password`, { username: 'lapsed' }), 409, 'account_exists');
      await sleep(3200);
      expectError(await postJson(`${base}/generate-2fa`, { username: 'lapsed', enrollment_token: first.enrollmentToken }), 401, 'invalid_token');
      // the step first: waiting for it must not outlast the second token's 3-second window
      const step = await stepWithMargin();
      const second = await createAccount(base, 'lapsed');
      expect(second.password).to.not.equal(first.password);
      const { secret } = await enroll(base, 'lapsed', second.enrollmentToken);
      expectError(await signIn(base, 'lapsed', first.password, secret, step), 401, 'invalid_credentials');
      expect((await signIn(base, 'lapsed', second.password, secret, step + 1)).status).to.equal(200);
    });

    it('expiry is revealed only after both factors, then renewal rotates both', async () => {
      const step0 = await stepWithMargin(12);
      const account = await createAndEnroll(base, 'expiring');
      expect((await signIn(base, 'expiring', account.password, account.secret, step0 - 1)).status).to.equal(200);
      await sleep(6200);
      const step = currentStep();
      // a wrong password does not learn about the expiry
      expectError(await postJson(`${base}/authenticate`, { username: 'expiring', password: 'wrong', totp: codeAt(account.secret, step) }), 401, 'invalid_credentials');
      const expired = await signIn(base, 'expiring', account.password, account.secret, step);
      expectError(expired, 403, 'credentials_expired');
      expect(expired.body.expired).to.equal(true);
      expect(expired.body.renewal_token).to.be.a('string');
      expect(new Date(expired.body.renewal_expires_at as string).getTime()).to.be.greaterThan(Date.now());
      // the TOTP step is used up like a success
      expectError(await signIn(base, 'expiring', account.password, account.secret, step), 401, 'invalid_credentials');

      expectError(await postJson(`${base}/generate-password`, { username: 'expiring' }), 409, 'account_exists');
      expectError(await postJson(`${base}/generate-password`, { username: 'expiring', renewal_token: 'wrong' }), 401, 'invalid_token');
      const renewed = await createAccount(base, 'expiring', { renewal_token: expired.body.renewal_token as string }, 200);
      expect(renewed.password).to.not.equal(account.password);
      expectError(await postJson(`${base}/generate-password`, { username: 'expiring', renewal_token: expired.body.renewal_token as string }), 401, 'invalid_token');
      // staged: the new password with the old secret, and the old password with the new secret, do not sign in
      expectError(await signIn(base, 'expiring', renewed.password, account.secret, step + 1), 401, 'invalid_credentials');
      const { secret } = await enroll(base, 'expiring', renewed.enrollmentToken);
      expectError(await signIn(base, 'expiring', account.password, secret, step + 1), 401, 'invalid_credentials');
      const back = await signIn(base, 'expiring', renewed.password, secret, step + 1);
      expect(back.status, back.text).to.equal(200);
      // promoted: the old credentials are gone
      expectError(await signIn(base, 'expiring', account.password, account.secret, step + 1), 401, 'invalid_credentials');
    });

    it('a renewal token used once is spent, and a lapsed one is refused', async () => {
      const step0 = await stepWithMargin(12);
      const account = await createAndEnroll(base, 'slow.renewer');
      expect((await signIn(base, 'slow.renewer', account.password, account.secret, step0 - 1)).status).to.equal(200);
      await sleep(6200);
      const expired = await signIn(base, 'slow.renewer', account.password, account.secret, currentStep());
      expectError(expired, 403, 'credentials_expired');
      await sleep(3200);
      expectError(await postJson(`${base}/generate-password`, { username: 'slow.renewer', renewal_token: expired.body.renewal_token as string }), 401, 'invalid_token');
    });
  });

  describe(`self-registration off, CORS on, on ${kind}`, function () {
    const live = useServer(kind, { SELF_REGISTRATION: 'false', CORS_ALLOWED_ORIGINS: 'https://portal.cofrap.example' });

    it('refuses to create an uninvited account', async () => {
      expectError(await postJson(`${live.url}/generate-password`, { username: 'walk.in' }), 401, 'invalid_token');
      expectError(await postJson(`${live.url}/generate-password`, { username: 'walk.in', invitation_token: 'guess' }), 401, 'invalid_token');
    });

    it('answers a CORS preflight for a configured origin only', async () => {
      const preflight = (origin: string): Promise<Answer> =>
        request(`${live.url}/authenticate`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
      const allowed = await preflight('https://portal.cofrap.example');
      expect(allowed.status).to.equal(204);
      expect(allowed.headers.get('access-control-allow-origin')).to.equal('https://portal.cofrap.example');
      expect(allowed.headers.get('access-control-allow-methods')).to.contain('POST');
      const other = await preflight('https://evil.example');
      expect(other.headers.get('access-control-allow-origin')).to.equal(null);
      const post = await postJson(`${live.url}/authenticate`, { username: 'x', password: 'y', totp: '123456' }, { origin: 'https://portal.cofrap.example' });
      expect(post.status).to.equal(401);
      expect(post.headers.get('access-control-allow-origin')).to.equal('https://portal.cofrap.example');
    });
  });
}
