// Recovery codes and renewal before expiry (issue 15, contract §5, §6), over real HTTP on
// the development server and a real PostgreSQL. Time is moved by writing timestamps.
import { expect } from 'chai';
import { requireBackend, useServer } from './helpers/backends.js';
import type { LiveServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import { codeAt, currentStep, nextStep, setLastTotpStep } from './helpers/totp.js';

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).to.equal(status);
  expect(answer.body.code, answer.text).to.equal(code);
}

const recover = (live: LiveServer, username: string, password: string, code: string): Promise<Answer> =>
  postJson(`${live.url}/authenticate`, { username, password, recovery_code: code });

const CROCKFORD_GROUPS = /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/;

describe('recovery codes and early renewal on postgres', function () {
  const live = useServer('postgres');
  before(async function () {
    await requireBackend(this, 'postgres');
  });

  it('generate-2fa answers 10 distinct codes of 80 bits, the same for every call with one token, stored nowhere in clear', async () => {
    const created = await createAccount(live.url, 'rc.store');
    const first = await enroll(live.url, 'rc.store', created.enrollmentToken);
    const again = await enroll(live.url, 'rc.store', created.enrollmentToken);
    expect(again.recoveryCodes).to.deep.equal(first.recoveryCodes);
    expect(new Set(first.recoveryCodes).size).to.equal(10);
    for (const code of first.recoveryCodes) {
      expect(code).to.match(CROCKFORD_GROUPS);
      expect(code.replace(/-/g, '').length * 5).to.be.at.least(80);
    }
    // activation drops the sealed copy; then no table holds a code, with or without hyphens
    const step = currentStep();
    expect((await signIn(live.url, 'rc.store', created.password, first.secret, step)).status).to.equal(200);
    const tables = await live.backend.sql<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    for (const { table_name } of tables) {
      const rows = await live.backend.sql<{ dump: string }>(`SELECT t::text AS dump FROM "${table_name}" t`);
      const dump = rows
        .map((r) => r.dump)
        .join('\n')
        .toLowerCase();
      for (const code of first.recoveryCodes) {
        expect(dump, table_name).to.not.contain(code);
        expect(dump, table_name).to.not.contain(code.replace(/-/g, ''));
      }
    }
  });

  it('each code signs in once, in any case, with spaces or without hyphens; the answer counts what is left', async () => {
    const step = currentStep();
    const account = await createAndEnroll(live.url, 'rc.once');
    const activated = await signIn(live.url, 'rc.once', account.password, account.secret, step);
    expect(activated.body.recovery_codes_left).to.equal(10);
    const [a, b, c] = account.recoveryCodes as [string, string, string];
    const variants = [a.toUpperCase(), b.replace(/-/g, ' '), c.replace(/-/g, '')];
    for (const [i, variant] of variants.entries()) {
      const answer = await recover(live, 'rc.once', account.password, variant);
      expect(answer.status, answer.text).to.equal(200);
      expect(answer.body.recovery_codes_left).to.equal(9 - i);
      expect(answer.body.enrollment_token).to.be.a('string');
    }
    expectError(await recover(live, 'rc.once', account.password, a), 401, 'invalid_credentials');
    // a wrong password with a right code, and a made-up code, are the one 401
    expectError(
      await recover(live, 'rc.once', 'wrong', account.recoveryCodes[3] as string),
      401,
      'invalid_credentials',
    );
    expectError(await recover(live, 'rc.once', account.password, 'zzzz-zzzz-zzzz-zzzz'), 401, 'invalid_credentials');
    expect(
      (await recover(live, 'rc.once', account.password, account.recoveryCodes[3] as string)).body.recovery_codes_left,
    ).to.equal(6);
  });

  it('totp and recovery_code together, or neither → 400', async () => {
    for (const body of [
      { username: 'x', password: 'p', totp: '123456', recovery_code: 'abcd' },
      { username: 'x', password: 'p' },
    ]) {
      const answer = await postJson(`${live.url}/authenticate`, body);
      expectError(answer, 400, 'invalid_request');
      expect(answer.body.error).to.match(/totp.*recovery_code/);
    }
  });

  it('a recovery code does not sign in an account that never activated', async () => {
    const created = await createAccount(live.url, 'rc.pending');
    const { recoveryCodes } = await enroll(live.url, 'rc.pending', created.enrollmentToken);
    expectError(
      await recover(live, 'rc.pending', created.password, recoveryCodes[0] as string),
      401,
      'invalid_credentials',
    );
  });

  it('lost phone: the old TOTP works until the new authenticator is first used, then only the new one, with new codes', async () => {
    const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
    const account = await createAndEnroll(live.url, 'rc.lost');
    expect((await signIn(live.url, 'rc.lost', account.password, account.secret, step - 1)).status).to.equal(200);
    const recovered = await recover(live, 'rc.lost', account.password, account.recoveryCodes[0] as string);
    expect(recovered.status, recovered.text).to.equal(200);
    const fresh = await enroll(live.url, 'rc.lost', recovered.body.enrollment_token as string);
    expect(fresh.secret).to.not.equal(account.secret);
    expect(fresh.recoveryCodes).to.not.include(account.recoveryCodes[1]);
    // the old phone (if found again) still works, and the old codes, until the new code is used
    expect((await signIn(live.url, 'rc.lost', account.password, account.secret, step)).status).to.equal(200);
    // a staged secret has never been used, so any step in the window is new for it
    const promoted = await signIn(live.url, 'rc.lost', account.password, fresh.secret, step);
    expect(promoted.status, promoted.text).to.equal(200);
    expect(promoted.body.recovery_codes_left).to.equal(10);
    // step is made unused again, so the old secret's code below is refused for its secret, not as a replay
    await setLastTotpStep(live.backend, 'rc.lost', step - 1);
    expectError(
      await postJson(`${live.url}/authenticate`, {
        username: 'rc.lost',
        password: account.password,
        totp: codeAt(account.secret, step),
      }),
      401,
      'invalid_credentials',
    );
    expectError(
      await recover(live, 'rc.lost', account.password, account.recoveryCodes[1] as string),
      401,
      'invalid_credentials',
    );
    expect((await recover(live, 'rc.lost', account.password, fresh.recoveryCodes[0] as string)).status).to.equal(200);
  });

  it('a recovery code on an expired account: 403 with a renewal token (expiry still wins), and the code is used', async () => {
    const step = currentStep();
    const account = await createAndEnroll(live.url, 'rc.expired');
    expect((await signIn(live.url, 'rc.expired', account.password, account.secret, step)).status).to.equal(200);
    await live.backend.sql("UPDATE users SET created_at = now() - interval '7 months' WHERE username = 'rc.expired'");
    const answer = await recover(live, 'rc.expired', account.password, account.recoveryCodes[0] as string);
    expectError(answer, 403, 'credentials_expired');
    expect(answer.body.renewal_token).to.be.a('string');
    expectError(
      await recover(live, 'rc.expired', account.password, account.recoveryCodes[0] as string),
      401,
      'invalid_credentials',
    );
  });

  it('inside RENEWAL_WINDOW a sign-in offers a renewal token; renewing early stages new credentials', async () => {
    const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
    const account = await createAndEnroll(live.url, 'rc.early');
    const fresh = await signIn(live.url, 'rc.early', account.password, account.secret, step - 1);
    expect(fresh.body).to.not.have.property('renewal_token');
    await live.backend.sql(
      "UPDATE users SET created_at = now() - interval '6 months' + interval '10 days' WHERE username = 'rc.early'",
    );
    const inWindow = await signIn(live.url, 'rc.early', account.password, account.secret, step);
    expect(inWindow.status, inWindow.text).to.equal(200);
    expect(inWindow.body.renewal_token).to.be.a('string');
    expect(new Date(inWindow.body.renewal_expires_at as string).getTime()).to.be.greaterThan(Date.now());
    const renewed = await createAccount(
      live.url,
      'rc.early',
      { renewal_token: inWindow.body.renewal_token as string },
      200,
    );
    const { secret } = await enroll(live.url, 'rc.early', renewed.enrollmentToken);
    const promoted = await signIn(live.url, 'rc.early', renewed.password, secret, step); // staged: any step is new
    expect(promoted.status, promoted.text).to.equal(200);
    expect(promoted.body).to.not.have.property('renewal_token');
    const months = (new Date(promoted.body.expires_at as string).getTime() - Date.now()) / (30.4 * 86_400_000);
    expect(months).to.be.within(5.8, 6.2);
  });
});
