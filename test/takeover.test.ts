// Regression tests for the account takeovers a security review found (issue 13), each
// replayed as it was done, over real HTTP on the development server and a real
// PostgreSQL. Time is moved by writing timestamps, never by waiting: an enrollment window
// "lapses" when its enrollment_expires_at is written into the past, credentials "age"
// when created_at is.
import { expect } from 'chai';
import { requireBackend, useServer } from './helpers/backends.js';
import type { LiveServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import type { Enrolled } from './helpers/journey.js';
import { replyEvent, sendEmployeeEvent } from './helpers/events.js';
import { currentStep, nextStep, setLastTotpStep } from './helpers/totp.js';

const MADE_UP = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.status, answer.text).to.equal(status);
  expect(answer.body.code, answer.text).to.equal(code);
}

interface Row {
  status: string;
  provenance: string;
  password_hash: string | null;
  mfa_secret: string | null;
  staged_password_hash: string | null;
  staged_mfa_secret: string | null;
  activated_at: Date | null;
  created_at: Date;
}

async function rowOf(live: LiveServer, username: string): Promise<Row> {
  const [row] = await live.backend.sql<Row>(
    'SELECT status, provenance, password_hash, mfa_secret, staged_password_hash, staged_mfa_secret, activated_at, created_at FROM users WHERE username = $1',
    [username],
  );
  if (row === undefined) throw new Error(`no row for ${username}`);
  return row;
}

const lapseEnrollment = (live: LiveServer, username: string): Promise<unknown> =>
  live.backend.sql("UPDATE users SET enrollment_expires_at = now() - interval '1 second' WHERE username = $1", [
    username,
  ]);

const ageCredentials = (live: LiveServer, username: string): Promise<unknown> =>
  live.backend.sql("UPDATE users SET created_at = now() - interval '7 months' WHERE username = $1", [username]);

/** Five wrong sign-ins, as the attacker sent them to hold the owner off; then the lock runs out. */
async function holdOff(live: LiveServer, username: string): Promise<void> {
  for (let i = 0; i < 5; i++)
    expectError(
      await postJson(`${live.url}/authenticate`, { username, password: 'guess', totp: '000000' }),
      401,
      'invalid_credentials',
    );
  expectError(
    await postJson(`${live.url}/authenticate`, { username, password: 'guess', totp: '000000' }),
    429,
    'too_many_requests',
  );
  await live.backend.sql("UPDATE auth_throttle SET locked_until = now() - interval '1 second' WHERE username = $1", [
    username,
  ]);
}

/** An active account whose credentials aged past the maximum: its owner's sign-in at `step` answered 403. */
async function expiredAccount(
  live: LiveServer,
  username: string,
  step: number,
): Promise<{ owner: Enrolled; expired: Answer }> {
  const owner = await createAndEnroll(live.url, username);
  expect((await signIn(live.url, username, owner.password, owner.secret, step - 1)).status).to.equal(200);
  await ageCredentials(live, username);
  const expired = await signIn(live.url, username, owner.password, owner.secret, step);
  expectError(expired, 403, 'credentials_expired');
  return { owner, expired };
}

describe('takeover regressions on postgres (issue 13)', function () {
  describe('self-registration on', function () {
    const live = useServer('postgres');
    before(async function () {
      await requireBackend(this, 'postgres');
    });

    it("finding 1: renewal → lapse → claim attempt → 409; the owner's old factors → 403 with a renewal token", async () => {
      const base = live.url;
      const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
      const { owner, expired } = await expiredAccount(live, 'victim', step);
      const before = await rowOf(live, 'victim');

      // The owner starts a renewal, and is held off before finishing it.
      const staged = await createAccount(base, 'victim', { renewal_token: expired.body.renewal_token as string }, 200);
      const during = await rowOf(live, 'victim');
      expect(during).to.include({
        status: 'active',
        password_hash: before.password_hash,
        mfa_secret: before.mfa_secret,
      });
      expect(during.staged_password_hash).to.be.a('string').and.not.equal(before.password_hash);
      await holdOff(live, 'victim');
      await lapseEnrollment(live, 'victim');

      // The attacker names the account: nothing to claim.
      expectError(await postJson(`${base}/generate-password`, { username: 'victim' }), 409, 'account_exists');
      expectError(await postJson(`${base}/generate-password`, { username: 'Victim ' }), 409, 'account_exists');
      expectError(
        await postJson(`${base}/generate-password`, { username: 'victim', renewal_token: MADE_UP }),
        401,
        'invalid_token',
      );
      expectError(
        await postJson(`${base}/generate-2fa`, { username: 'victim', enrollment_token: staged.enrollmentToken }),
        401,
        'invalid_token',
      );
      const after = await rowOf(live, 'victim');
      expect(after).to.include({
        status: 'active',
        password_hash: before.password_hash,
        mfa_secret: before.mfa_secret,
      });
      expect(after.activated_at?.getTime()).to.equal(before.activated_at?.getTime());

      // The owner's old factors answer as before: expired, with a fresh renewal token.
      await setLastTotpStep(live.backend, 'victim', step - 1); // step is fresh again: no third step to wait for
      const again = await signIn(base, 'victim', owner.password, owner.secret, step);
      expectError(again, 403, 'credentials_expired');
      expect(again.body.renewal_token).to.be.a('string').and.not.equal(expired.body.renewal_token);

      // A new renewal replaces the lapsed staged one; the first sign-in with both new factors promotes them.
      const renewed = await createAccount(base, 'victim', { renewal_token: again.body.renewal_token as string }, 200);
      expect((await rowOf(live, 'victim')).staged_password_hash).to.not.equal(during.staged_password_hash);
      const { secret } = await enroll(base, 'victim', renewed.enrollmentToken);
      const promoted = await signIn(base, 'victim', renewed.password, secret, step); // staged: any step is new
      expect(promoted.status, promoted.text).to.equal(200);
      const done = await rowOf(live, 'victim');
      expect(done).to.include({ status: 'active', staged_password_hash: null, staged_mfa_secret: null });
      expect(done.password_hash).to.not.equal(before.password_hash);
      expect(done.created_at.getTime()).to.be.greaterThan(before.created_at.getTime());
      // step made unused again: the old code is refused for its secret, not as a replay
      await setLastTotpStep(live.backend, 'victim', step - 1);
      expectError(await signIn(base, 'victim', owner.password, owner.secret, step), 401, 'invalid_credentials');
    });

    it('finding 1: a renewal in progress leaves the credentials in use working, before expiry too', async () => {
      const base = live.url;
      const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
      const { owner, expired } = await expiredAccount(live, 'early.bird', step);
      const renewal = await createAccount(
        base,
        'early.bird',
        { renewal_token: expired.body.renewal_token as string },
        200,
      );
      // enrolled but not yet used: the staged set waits; a second call shows the same secret
      const first = await enroll(base, 'early.bird', renewal.enrollmentToken);
      expect((await enroll(base, 'early.bird', renewal.enrollmentToken)).secret).to.equal(first.secret);
      expect((await rowOf(live, 'early.bird')).staged_mfa_secret).to.be.a('string');
      // the old factors still sign in (expired: 403 with a renewal token, not 401)
      await setLastTotpStep(live.backend, 'early.bird', step - 1); // step is fresh again: no third step to wait for
      expectError(await signIn(base, 'early.bird', owner.password, owner.secret, step), 403, 'credentials_expired');
      expect((await signIn(base, 'early.bird', renewal.password, first.secret, step)).status).to.equal(200);
    });

    it('finding 1: a self-registered account that never activated may start over; once active, never by name', async () => {
      const base = live.url;
      const first = await createAccount(base, 'walk.in');
      await lapseEnrollment(live, 'walk.in');
      expectError(
        await postJson(`${base}/generate-2fa`, { username: 'walk.in', enrollment_token: first.enrollmentToken }),
        401,
        'invalid_token',
      );
      const second = await createAccount(base, 'walk.in');
      const step = currentStep();
      const { secret } = await enroll(base, 'walk.in', second.enrollmentToken);
      expectError(await signIn(base, 'walk.in', first.password, secret, step), 401, 'invalid_credentials');
      expect((await signIn(base, 'walk.in', second.password, secret, step)).status).to.equal(200);
      await lapseEnrollment(live, 'walk.in');
      expectError(await postJson(`${base}/generate-password`, { username: 'walk.in' }), 409, 'account_exists');
    });

    it('finding 2: made-up tokens answer byte-identical bodies in every state', async () => {
      const base = live.url;
      const events = `${base}/employee-events`;
      const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
      // invited
      expect(
        (await sendEmployeeEvent(events, 'fr.cofrap.hr.employee.created', { username: 'st.invited' })).status,
      ).to.equal(200);
      // pending (self-registered, window open) and pending (from an invitation)
      await createAccount(base, 'st.pending');
      const invitation = replyEvent(
        await sendEmployeeEvent(events, 'fr.cofrap.hr.employee.created', { username: 'st.pending.hr' }),
      ).data?.invitation_token as string;
      await createAccount(base, 'st.pending.hr', { invitation_token: invitation });
      // active
      const active = await createAndEnroll(base, 'st.active');
      expect((await signIn(base, 'st.active', active.password, active.secret, step)).status).to.equal(200);
      // expired, not yet told (only the age says so), and flagged
      const aged = await createAndEnroll(base, 'st.aged');
      expect((await signIn(base, 'st.aged', aged.password, aged.secret, step)).status).to.equal(200);
      await ageCredentials(live, 'st.aged');
      const flagged = await createAndEnroll(base, 'st.expired');
      expect((await signIn(base, 'st.expired', flagged.password, flagged.secret, step - 1)).status).to.equal(200);
      await ageCredentials(live, 'st.expired');
      expectError(await signIn(base, 'st.expired', flagged.password, flagged.secret, step), 403, 'credentials_expired');
      // disabled
      const gone = await createAndEnroll(base, 'st.disabled');
      expect((await signIn(base, 'st.disabled', gone.password, gone.secret, step)).status).to.equal(200);
      expect(
        (await sendEmployeeEvent(events, 'fr.cofrap.hr.employee.departed', { username: 'st.disabled' })).status,
      ).to.equal(200);

      const usernames = [
        'st.unknown',
        'st.invited',
        'st.pending',
        'st.pending.hr',
        'st.active',
        'st.aged',
        'st.expired',
        'st.disabled',
      ];
      const bodies = new Map<string, string>();
      for (const username of usernames) {
        const probes = await Promise.all([
          postJson(`${base}/generate-password`, { username, renewal_token: MADE_UP }),
          postJson(`${base}/generate-password`, { username, invitation_token: MADE_UP }),
          postJson(`${base}/generate-2fa`, { username, enrollment_token: MADE_UP }),
        ]);
        probes.forEach((probe, i) => {
          expectError(probe, 401, 'invalid_token');
          bodies.set(`${username} #${i}`, probe.text);
        });
      }
      expect(new Set(bodies.values()).size, JSON.stringify(Object.fromEntries(bodies), null, 1)).to.equal(1);
      // nothing was changed by the probes: the expired account still answers 403 with its old factors
      await setLastTotpStep(live.backend, 'st.aged', step - 1); // step is fresh again: no third step to wait for
      expectError(await signIn(base, 'st.aged', aged.password, aged.secret, step), 403, 'credentials_expired');
    });

    it('finding 5: look-alike usernames are refused beside jose.fino, over HTTP and from HR', async () => {
      const base = live.url;
      await createAccount(base, 'jose.fino');
      for (const lookAlike of ['ｊose.fino', 'jose.ﬁno', 'jose.fıno', 'JOSE.FINO ']) {
        expectError(await postJson(`${base}/generate-password`, { username: lookAlike }), 409, 'account_exists');
      }
      const cyrillic = await postJson(`${base}/generate-password`, { username: 'jоse.fino' });
      expectError(cyrillic, 400, 'invalid_request');
      expect(cyrillic.body.error).to.match(/username/);
      // HR's event for a look-alike creates nothing and tells IT which account it resembles
      const answer = await sendEmployeeEvent(`${base}/employee-events`, 'fr.cofrap.hr.employee.created', {
        username: 'jose.fıno',
      });
      expect(answer.status, answer.text).to.equal(200);
      const event = replyEvent(answer);
      expect(event.type).to.equal('fr.cofrap.identity.account.conflict');
      expect(event.data).to.deep.equal({ username: 'jose.fıno', provenance: 'self', similar_to: 'jose.fino' });
      const rows = await live.backend.sql<{ username: string }>(
        "SELECT username FROM users WHERE username LIKE 'jos%' ORDER BY username",
      );
      expect(rows.map((r) => r.username)).to.deep.equal(['jose.fino']);
    });
  });

  describe('self-registration off', function () {
    const live = useServer('postgres', { SELF_REGISTRATION: 'false' });
    before(async function () {
      await requireBackend(this, 'postgres');
    });

    it('finding 1, invitation variant: an accepted invitation whose window lapsed is never claimable by name', async () => {
      const base = live.url;
      const events = `${base}/employee-events`;
      const invited = replyEvent(
        await sendEmployeeEvent(events, 'fr.cofrap.hr.employee.created', {
          username: 'nora.petit',
          email: 'nora.petit@cofrap.fr',
        }),
      );
      const invitation = invited.data?.invitation_token as string;
      const first = await createAccount(base, 'nora.petit', { invitation_token: invitation });
      expect(await rowOf(live, 'nora.petit')).to.include({ status: 'pending', provenance: 'hr' });
      await holdOff(live, 'nora.petit');
      await lapseEnrollment(live, 'nora.petit');

      expectError(await postJson(`${base}/generate-password`, { username: 'nora.petit' }), 409, 'account_exists');
      expectError(
        await postJson(`${base}/generate-password`, { username: 'nora.petit', invitation_token: MADE_UP }),
        401,
        'invalid_token',
      );
      expectError(
        await postJson(`${base}/generate-2fa`, { username: 'nora.petit', enrollment_token: first.enrollmentToken }),
        401,
        'invalid_token',
      );

      // The invitation is still hers: it starts over, replacing the first password.
      const second = await createAccount(base, 'nora.petit', { invitation_token: invitation });
      expect(second.password).to.not.equal(first.password);
      const step = currentStep();
      const { secret } = await enroll(base, 'nora.petit', second.enrollmentToken);
      expect((await signIn(base, 'nora.petit', second.password, secret, step)).status).to.equal(200);
      expectError(await signIn(base, 'nora.petit', first.password, secret, step + 1), 401, 'invalid_credentials');
      // activated: the invitation is spent
      expectError(
        await postJson(`${base}/generate-password`, { username: 'nora.petit', invitation_token: invitation }),
        401,
        'invalid_token',
      );
      expectError(await postJson(`${base}/generate-password`, { username: 'nora.petit' }), 409, 'account_exists');
    });
  });
});
