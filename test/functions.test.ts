// The three functions over real HTTP on the development server, on both databases: the
// whole journey, a few rows of the contract's status table end to end (every row is
// test/http-checks.test.ts's, in-process), concurrency and logs. On PostgreSQL, the
// production database, also takeovers and tokens, throttling, and the lifecycle over time
// (moved by writing the account's timestamps): their SQL is the same on PGlite, where the
// embedded mode of `npm start` is shown working by the rest (docs/testing.md, "The two
// backends").
import { expect } from 'chai';
import { BACKENDS, onPostgresOnly, useServer } from './helpers/backends.js';
import { postJson, request } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import { codeAt, currentStep, currentStepWithRoom, nextStep, setLastTotpStep } from './helpers/totp.js';
import { pause, until } from './helpers/time.js';

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
        const created = await postJson(`${base}/generate-password`, { username: ' Alice.Martin ' });
        expect(created.status).to.equal(201);
        expect(created.body).to.have.keys(
          'message',
          'username',
          'qr_code_base64',
          'enrollment_token',
          'enrollment_expires_at',
        );
        expect(created.body.username).to.equal('alice.martin');
        expect(created.headers.get('cache-control')).to.equal('no-store');
        expectError(await postJson(`${base}/generate-password`, { username: 'ALICE.martin' }), 409, 'account_exists');

        const { secret, answer } = await enroll(base, 'alice.martin', created.body.enrollment_token as string);
        expect(answer.body).to.have.keys(
          'message',
          'username',
          'qr_code_2fa_base64',
          'manual_entry_key',
          'otpauth_uri',
          'recovery_codes',
        );
        expect(answer.body.manual_entry_key).to.match(/^[A-Z2-7]{32}$/);
        const uri = new URL(answer.body.otpauth_uri as string);
        expect(uri.searchParams.get('issuer')).to.equal('COFRAP Secure');

        const { decodeQrPng } = await import('./helpers/qr.js');
        const qrPassword = decodeQrPng(created.body.qr_code_base64 as string);
        expect(qrPassword).to.have.length(24);

        // Three fresh steps: first - 1, first and a later one. On PostgreSQL first - 1 is the
        // current step (nextStep) and the later one is first again once the test has moved
        // last_totp_step back; on PGlite, where the server alone holds the rows, first - 1 is the
        // previous step, so the step must have a second left for this one request (helpers/totp.ts).
        const first = kind === 'postgres' ? nextStep() : await currentStepWithRoom();
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
        if (kind === 'postgres') await setLastTotpStep(live.backend, 'alice.martin', first - 1);
        const next = await signIn(base, 'alice.martin', qrPassword, secret, kind === 'postgres' ? first : first + 1);
        expect(next.status, next.text).to.equal(200);
      });

      it('a pending account is not active before its first code; generate-2fa answers one secret per token', async () => {
        const step = currentStep();
        const account = await createAndEnroll(base, 'pending.pat');
        // pending: generate-2fa still answers with the token (a redo of a lost scan), the same secret
        const redo = await enroll(base, 'pending.pat', account.enrollmentToken);
        expect(redo.secret).to.equal(account.secret);
        expect((await signIn(base, 'pending.pat', account.password, redo.secret, step)).status).to.equal(200);
        // after the first code the token is spent: the one refusal for every token
        expectError(
          await postJson(`${base}/generate-2fa`, {
            username: 'pending.pat',
            enrollment_token: account.enrollmentToken,
          }),
          401,
          'invalid_token',
        );
      });
    });

    const postgres = onPostgresOnly(kind);

    postgres.describe('takeover and tokens', () => {
      it('never recreates or resets an existing account by username alone', async () => {
        const step = currentStep();
        const account = await createAndEnroll(base, 'bob');
        expectError(await postJson(`${base}/generate-password`, { username: 'bob' }), 409, 'account_exists');
        expectError(await postJson(`${base}/generate-password`, { username: 'BOB ' }), 409, 'account_exists');
        expect((await signIn(base, 'bob', account.password, account.secret, step)).status).to.equal(200);
        expectError(await postJson(`${base}/generate-password`, { username: 'bob' }), 409, 'account_exists');
        expectError(
          await postJson(`${base}/generate-password`, { username: 'bob', renewal_token: 'made-up' }),
          401,
          'invalid_token',
        );
        expect((await signIn(base, 'bob', account.password, account.secret, step + 1)).status).to.equal(200);
      });

      it('ties generate-2fa to the enrollment token of that user', async () => {
        const carol = await createAccount(base, 'carol');
        const dave = await createAccount(base, 'dave');
        expectError(
          await postJson(`${base}/generate-2fa`, { username: 'carol', enrollment_token: dave.enrollmentToken }),
          401,
          'invalid_token',
        );
        expectError(await postJson(`${base}/generate-2fa`, { username: 'carol' }), 401, 'invalid_token');
        expectError(
          await postJson(`${base}/generate-2fa`, { username: 'carol', enrollment_token: '' }),
          401,
          'invalid_token',
        );
        expectError(
          await postJson(`${base}/generate-2fa`, { username: 'nobody', enrollment_token: carol.enrollmentToken }),
          401,
          'invalid_token',
        );
        expectError(
          await postJson(`${base}/generate-2fa`, { username: 'carol', enrollment_token: 5 }),
          400,
          'invalid_request',
        );
        const unknownBody = (await postJson(`${base}/generate-2fa`, { username: 'nobody', enrollment_token: 'x' }))
          .text;
        const wrongBody = (await postJson(`${base}/generate-2fa`, { username: 'carol', enrollment_token: 'x' })).text;
        expect(unknownBody).to.equal(wrongBody);
        await enroll(base, 'carol', carol.enrollmentToken);
      });

      it('answers one identical body for an unknown user, a wrong password and a wrong code', async () => {
        const step = currentStep();
        const erin = await createAndEnroll(base, 'erin');
        const wrongCode = codeAt(erin.secret, step) === '000000' ? '111111' : '000000';
        const answers = await Promise.all([
          postJson(`${base}/authenticate`, {
            username: 'no-such-user',
            password: erin.password,
            totp: codeAt(erin.secret, step),
          }),
          postJson(`${base}/authenticate`, {
            username: 'erin',
            password: erin.password + 'x',
            totp: codeAt(erin.secret, step),
          }),
          postJson(`${base}/authenticate`, { username: 'erin', password: erin.password, totp: wrongCode }),
        ]);
        for (const answer of answers) expectError(answer, 401, 'invalid_credentials');
        expect(new Set(answers.map((a) => a.text)).size).to.equal(1);
        // an account that never enrolled a second factor cannot sign in with its password alone
        const frank = await createAccount(base, 'frank');
        expectError(
          await postJson(`${base}/authenticate`, { username: 'frank', password: frank.password, totp: '123456' }),
          401,
          'invalid_credentials',
        );
      });
    });

    // End to end through the spawned server, one row per kind of refusal; every row of the
    // status table, CORS and the probes are test/http-checks.test.ts's (in-process).
    describe('bad input gets a clear error (end to end)', () => {
      const json = { 'content-type': 'application/json' };
      const cases: Array<
        [string, string, { method?: string; headers?: Record<string, string>; body?: string }, number, string]
      > = [
        ['GET', 'generate-password', { method: 'GET' }, 405, 'method_not_allowed'],
        [
          'text/plain',
          'authenticate',
          { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"username":"x"}' },
          415,
          'unsupported_media_type',
        ],
        [
          'invalid JSON',
          'generate-2fa',
          { method: 'POST', headers: json, body: '{"username": ' },
          400,
          'invalid_request',
        ],
      ];
      for (const [label, fn, init, status, code] of cases) {
        it(`${fn}: ${label} → ${status} ${code}`, async () => {
          expectError(await request(`${base}/${fn}`, init), status, code);
        });
      }
    });

    postgres.describe('throttling', () => {
      it('refuses with 429 and Retry-After after 5 consecutive failures from one address, even the right password', async () => {
        const step = currentStep();
        const hank = await createAndEnroll(base, 'hank');
        for (let i = 0; i < 5; i++)
          expectError(
            await postJson(`${base}/authenticate`, { username: 'hank', password: 'wrong', totp: '000000' }),
            401,
            'invalid_credentials',
          );
        const locked = await signIn(base, 'hank', hank.password, hank.secret, step);
        expectError(locked, 429, 'too_many_requests');
        const retryAfter = Number(locked.headers.get('retry-after'));
        expect(retryAfter).to.be.within(1, 30);
        // the lock is this address's (the TCP peer: no proxy is trusted here), and a client
        // cannot pick another key by writing X-Forwarded-For itself
        const forged = await postJson(
          `${base}/authenticate`,
          { username: 'hank', password: 'wrong', totp: '000000' },
          { 'x-forwarded-for': '203.0.113.9' },
        );
        expectError(forged, 429, 'too_many_requests');
        // an unknown username is throttled the same way
        for (let i = 0; i < 5; i++)
          expectError(
            await postJson(`${base}/authenticate`, { username: 'ghost', password: 'x', totp: '000000' }),
            401,
            'invalid_credentials',
          );
        expectError(
          await postJson(`${base}/authenticate`, { username: 'ghost', password: 'x', totp: '000000' }),
          429,
          'too_many_requests',
        );
      });

      it('a success resets the count', async () => {
        const step = currentStep();
        const ivy = await createAndEnroll(base, 'ivy');
        for (let i = 0; i < 4; i++)
          expectError(
            await postJson(`${base}/authenticate`, { username: 'ivy', password: 'wrong', totp: '000000' }),
            401,
            'invalid_credentials',
          );
        expect((await signIn(base, 'ivy', ivy.password, ivy.secret, step)).status).to.equal(200);
        for (let i = 0; i < 4; i++)
          expectError(
            await postJson(`${base}/authenticate`, { username: 'ivy', password: 'wrong', totp: '000000' }),
            401,
            'invalid_credentials',
          );
        expect((await signIn(base, 'ivy', ivy.password, ivy.secret, step + 1)).status).to.equal(200);
      });
    });

    describe('concurrency', () => {
      it('two simultaneous sign-ins with one code: one 200, one 401', async () => {
        const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
        const jo = await createAndEnroll(base, 'jo');
        expect((await signIn(base, 'jo', jo.password, jo.secret, step - 1)).status).to.equal(200);
        const pair = await Promise.all([
          signIn(base, 'jo', jo.password, jo.secret, step),
          signIn(base, 'jo', jo.password, jo.secret, step),
        ]);
        expect(pair.map((a) => a.status).sort()).to.deep.equal([200, 401]);
        if (kind === 'postgres') {
          const [row] = await live.backend.sql<{ status: string; last_totp_step: number }>(
            "SELECT status, last_totp_step FROM users WHERE username = 'jo'",
          );
          expect(row).to.deep.equal({ status: 'active', last_totp_step: step });
        }
      });

      it('answers /healthz while password hashes are running', async () => {
        let finished = 0;
        const hashes = Array.from({ length: 6 }, (_, i) =>
          postJson(`${base}/generate-password`, { username: `busy${i}` }).then((answer) => (finished++, answer)),
        );
        await pause(20); // the hashes' requests on their way first
        const health = await request(`${base}/healthz`);
        const finishedWhenHealthy = finished;
        expect(health.status).to.equal(200);
        expect(health.body).to.deep.equal({ status: 'ok' });
        expect((await Promise.all(hashes)).map((a) => a.status)).to.deep.equal(Array(6).fill(201));
        // /healthz came back before the last hash finished: the event loop was free.
        expect(finishedWhenHealthy).to.be.lessThan(6);
      });
    });

    if (kind === 'pglite')
      it('/readyz answers 200: PGlite cuts no statement, so there is no statement bound to check', async () => {
        const answer = await request(`${base}/readyz`);
        expect(answer.status, answer.text).to.equal(200);
      });

    describe('logs', () => {
      it('are one JSON object per line with a request id, and carry no secret', async () => {
        const step = currentStep();
        const kim = await createAndEnroll(base, 'kim');
        const signedIn = await signIn(base, 'kim', kim.password, kim.secret, step);
        expect(signedIn.status).to.equal(200);
        const requestId = signedIn.headers.get('x-request-id') as string;
        await until(
          () => live.process.output.some((line) => line.includes(requestId) && line.includes('"event":"request"')),
          `no request line for ${requestId}`,
        );
        const lines = live.process.output.filter((line) => line.startsWith('{'));
        expect(lines.length).to.be.greaterThan(10);
        for (const line of lines) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          expect(entry).to.include.keys('time', 'level', 'event');
          if (entry.event === 'request') expect(entry.request_id).to.be.a('string');
        }
        const all = live.process.output.join('\n');
        for (const secret of [kim.password, kim.secret, kim.enrollmentToken, codeAt(kim.secret, step)])
          expect(all).to.not.contain(secret);
        expect(all).to.not.match(/\$2[ab]\$\d\d\$/);
        expect(all).to.not.contain('gAAAAA');
      });
    });

    // Time is moved by writing the account's own timestamps (the service compares them with the
    // database's now()), so these run on PostgreSQL, where the test reaches the rows; the SQL
    // is the same on PGlite. The service runs with its default durations.
    postgres.describe('lifecycle over time', function () {
      /** Puts `column` of `username`'s row a second in the past: that deadline has lapsed. */
      const lapse = async (username: string, column: 'enrollment_expires_at' | 'renewal_expires_at'): Promise<void> => {
        const rows = await live.backend.sql(
          `UPDATE users SET ${column} = now() - interval '1 second' WHERE username = $1 RETURNING username`,
          [username],
        );
        expect(rows, `${username}'s ${column}`).to.have.length(1);
      };
      /** Makes `username`'s credentials older than CREDENTIAL_MAX_AGE (6 months by default). */
      const age = async (username: string): Promise<void> => {
        const rows = await live.backend.sql(
          "UPDATE users SET created_at = now() - interval '6 months 1 second' WHERE username = $1 RETURNING username",
          [username],
        );
        expect(rows, username).to.have.length(1);
      };

      it('a lapsed enrollment may start over with a fresh password; its token is dead', async () => {
        const first = await createAccount(base, 'lapsed');
        expectError(await postJson(`${base}/generate-password`, { username: 'lapsed' }), 409, 'account_exists');
        await lapse('lapsed', 'enrollment_expires_at');
        expectError(
          await postJson(`${base}/generate-2fa`, { username: 'lapsed', enrollment_token: first.enrollmentToken }),
          401,
          'invalid_token',
        );
        const step = currentStep();
        const second = await createAccount(base, 'lapsed');
        expect(second.password).to.not.equal(first.password);
        const { secret } = await enroll(base, 'lapsed', second.enrollmentToken);
        expectError(await signIn(base, 'lapsed', first.password, secret, step), 401, 'invalid_credentials');
        expect((await signIn(base, 'lapsed', second.password, secret, step + 1)).status).to.equal(200);
      });

      it('expiry is revealed only after both factors, then renewal rotates both', async () => {
        const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
        const account = await createAndEnroll(base, 'expiring');
        expect((await signIn(base, 'expiring', account.password, account.secret, step - 1)).status).to.equal(200);
        await age('expiring');
        // a wrong password does not learn about the expiry
        expectError(
          await postJson(`${base}/authenticate`, {
            username: 'expiring',
            password: 'wrong',
            totp: codeAt(account.secret, step),
          }),
          401,
          'invalid_credentials',
        );
        const expired = await signIn(base, 'expiring', account.password, account.secret, step);
        expectError(expired, 403, 'credentials_expired');
        expect(expired.body.expired).to.equal(true);
        expect(expired.body.renewal_token).to.be.a('string');
        expect(new Date(expired.body.renewal_expires_at as string).getTime()).to.be.greaterThan(Date.now());
        // the TOTP step is used up like a success
        expectError(await signIn(base, 'expiring', account.password, account.secret, step), 401, 'invalid_credentials');

        expectError(await postJson(`${base}/generate-password`, { username: 'expiring' }), 409, 'account_exists');
        expectError(
          await postJson(`${base}/generate-password`, { username: 'expiring', renewal_token: 'wrong' }),
          401,
          'invalid_token',
        );
        const renewed = await createAccount(
          base,
          'expiring',
          { renewal_token: expired.body.renewal_token as string },
          200,
        );
        expect(renewed.password).to.not.equal(account.password);
        expectError(
          await postJson(`${base}/generate-password`, {
            username: 'expiring',
            renewal_token: expired.body.renewal_token as string,
          }),
          401,
          'invalid_token',
        );
        // step made fresh again (a third step without waiting for one): the refusals below are
        // for the credentials, not a replay
        await setLastTotpStep(live.backend, 'expiring', step - 1);
        // staged: the new password with the old secret, and the old password with the new secret, do not sign in
        expectError(await signIn(base, 'expiring', renewed.password, account.secret, step), 401, 'invalid_credentials');
        const { secret } = await enroll(base, 'expiring', renewed.enrollmentToken);
        expectError(await signIn(base, 'expiring', account.password, secret, step), 401, 'invalid_credentials');
        const back = await signIn(base, 'expiring', renewed.password, secret, step);
        expect(back.status, back.text).to.equal(200);
        // promoted: the old credentials are gone (step unused again, so not refused as a replay)
        await setLastTotpStep(live.backend, 'expiring', step - 1);
        expectError(await signIn(base, 'expiring', account.password, account.secret, step), 401, 'invalid_credentials');
      });

      it('a renewal token used once is spent, and a lapsed one is refused', async () => {
        for (const username of ['quick.renewer', 'slow.renewer']) {
          const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
          const account = await createAndEnroll(base, username);
          expect((await signIn(base, username, account.password, account.secret, step - 1)).status).to.equal(200);
          await age(username);
          const expired = await signIn(base, username, account.password, account.secret, step);
          expectError(expired, 403, 'credentials_expired');
          const renewal = { username, renewal_token: expired.body.renewal_token as string };
          if (username === 'slow.renewer') {
            await lapse(username, 'renewal_expires_at');
            expectError(await postJson(`${base}/generate-password`, renewal), 401, 'invalid_token');
          } else {
            expect((await postJson(`${base}/generate-password`, renewal)).status).to.equal(200);
            expectError(await postJson(`${base}/generate-password`, renewal), 401, 'invalid_token');
          }
        }
      });
    });
  });
}
