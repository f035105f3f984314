// employee-events over real HTTP with real CloudEvents (binary and structured mode): on
// both databases, invitations, at-least-once delivery and the broker's errors (on PGlite,
// as `npm start` runs, without sender checks); on PostgreSQL also conflicts, rehiring,
// resets and disablement, whose SQL is the same on PGlite (docs/testing.md).
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { BACKENDS, onPostgresOnly, useServer } from './helpers/backends.js';
import { useInProcessServer } from './helpers/in-process.js';
import { postJson, request } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import { currentStep, currentStepWithRoom, nextStep, setLastTotpStep } from './helpers/totp.js';
import { until } from './helpers/time.js';
import { HR_SOURCE, replyEvent, sendEmployeeEvent } from './helpers/events.js';
import { brokerAuthorization } from './helpers/oidc.js';
import { hashToken } from '../lib/crypto/tokens.js';

const CREATED = 'fr.cofrap.hr.employee.created';
const DEPARTED = 'fr.cofrap.hr.employee.departed';
const REHIRED = 'fr.cofrap.hr.employee.rehired';
const RESET = 'fr.cofrap.it.credentials.reset-requested';
const HELPDESK_SOURCE = '/it/helpdesk';

function expect400(answer: Answer, message?: RegExp): void {
  expect(answer.status, answer.text).to.equal(400);
  expect(answer.body.code).to.equal('invalid_request');
  if (message) expect(answer.body.error).to.match(message);
}

function invitationOf(answer: Answer): { token: string; expiresAt: Date } {
  expect(answer.status, answer.text).to.equal(200);
  const event = replyEvent(answer);
  expect(event.type).to.equal('fr.cofrap.identity.account.invited');
  return {
    token: event.data?.invitation_token as string,
    expiresAt: new Date(event.data?.invitation_expires_at as string),
  };
}

for (const kind of BACKENDS) {
  describe(`employee-events on ${kind}`, function () {
    const live = useServer(kind);
    const postgres = onPostgresOnly(kind);
    let url: string;
    let base: string;
    before(() => {
      base = live.url;
      url = `${base}/employee-events`;
    });

    /**
     * HR invites `username` (with an e-mail), who then sets up and signs in at `step` (or at the
     * step `step()` chooses just before the sign-in is sent).
     */
    async function invitedAndActive(
      username: string,
      step: number | (() => Promise<number>),
    ): Promise<{
      invitation: { token: string };
      account: { password: string; enrollmentToken: string };
      enrolled: { secret: string };
    }> {
      const invitation = invitationOf(
        await sendEmployeeEvent(url, CREATED, { username, email: `${username}@cofrap.fr` }),
      );
      const account = await createAccount(base, username, { invitation_token: invitation.token });
      const enrolled = await enroll(base, username, account.enrollmentToken);
      const at = typeof step === 'number' ? step : await step();
      expect((await signIn(base, username, account.password, enrolled.secret, at)).status).to.equal(200);
      return { invitation, account, enrolled };
    }

    if (kind === 'pglite') {
      it('without sender settings (PGlite, as npm start runs): says at start, in a warning, that events are accepted unchecked', async () => {
        // the banner is written just after the "listening" line the start waited for
        const banner =
          'WARNING: employee-events skips these sender checks: token, source (embedded development mode only)';
        await until(
          () => live.process.output.some((line) => line.includes(banner)),
          () => `no banner in:\n${live.process.output.join('\n')}`,
        );
        const warning = live.process.output
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .find((entry) => entry.event === 'events_unchecked');
        expect(warning?.level).to.equal('warn');
        expect(warning?.unchecked).to.deep.equal(['token', 'source']);
        expect(live.process.output.join('\n')).to.contain(banner);
      });

      it('without sender settings (PGlite, as npm start runs): accepts an event without a token, from any source', async () => {
        const answer = await sendEmployeeEvent(
          url,
          CREATED,
          { username: 'dev.local' },
          { token: null, source: '/my/laptop' },
        );
        expect(answer.status, answer.text).to.equal(200);
        expect(replyEvent(answer).type).to.equal('fr.cofrap.identity.account.invited');
      });
    }

    it('created (binary mode) → 200 with an account.invited reply event in binary mode', async () => {
      const answer = await sendEmployeeEvent(url, CREATED, {
        username: 'Nora.Petit',
        email: 'nora.petit@cofrap.fr',
        display_name: 'Nora Petit',
      });
      expect(answer.status, answer.text).to.equal(200);
      expect(answer.headers.get('ce-specversion')).to.equal('1.0');
      expect(answer.headers.get('ce-type')).to.equal('fr.cofrap.identity.account.invited');
      expect(answer.headers.get('ce-id')).to.be.a('string').and.not.equal('');
      expect(answer.headers.get('ce-source')).to.be.a('string').and.not.equal('');
      expect(answer.headers.get('content-type')).to.match(/^application\/json/);
      expect(Object.keys(answer.body).sort()).to.deep.equal([
        'email',
        'invitation_expires_at',
        'invitation_token',
        'username',
      ]);
      expect(answer.body.email).to.equal('nora.petit@cofrap.fr');
      expect(answer.body.username).to.equal('nora.petit');
      expect(answer.body.invitation_token).to.match(/^[A-Za-z0-9_-]{43}$/);
      const days = (new Date(answer.body.invitation_expires_at as string).getTime() - Date.now()) / 86_400_000;
      expect(days).to.be.within(6.9, 7.1);
    });

    it('end to end: event → invitation token → generate-password → generate-2fa → authenticate → active', async () => {
      const invitation = invitationOf(
        await sendEmployeeEvent(url, CREATED, { username: 'omar' }, { mode: 'structured' }),
      );
      const refused = await postJson(`${base}/generate-password`, { username: 'omar' });
      expect(refused.status).to.equal(409);
      expect(refused.body.code).to.equal('account_exists');
      const wrong = await postJson(`${base}/generate-password`, {
        username: 'omar',
        invitation_token: 'not-the-token',
      });
      expect(wrong.body.code).to.equal('invalid_token');
      const first = await createAccount(base, 'omar', { invitation_token: invitation.token });
      // the invitation stays valid until activation: a second use replaces the first password
      const { password, enrollmentToken } = await createAccount(base, 'omar', { invitation_token: invitation.token });
      expect(password).to.not.equal(first.password);
      expect(
        (await postJson(`${base}/generate-2fa`, { username: 'omar', enrollment_token: first.enrollmentToken })).body
          .code,
      ).to.equal('invalid_token');
      const { secret } = await enroll(base, 'omar', enrollmentToken);
      const step = currentStep();
      expect((await signIn(base, 'omar', password, secret, step)).status).to.equal(200);
      // now active: the same event again changes nothing and sends no invitation
      const again = await sendEmployeeEvent(url, CREATED, { username: 'omar' });
      expect(again.status).to.equal(200);
      expect(again.text).to.equal('');
      expect(again.headers.get('ce-type')).to.equal(null);
      expect((await signIn(base, 'omar', password, secret, step + 1)).status).to.equal(200);
      // activated: the invitation is spent
      expect(
        (await postJson(`${base}/generate-password`, { username: 'omar', invitation_token: invitation.token })).body
          .code,
      ).to.equal('invalid_token');
    });

    it('the same event delivered 3 times leaves one account; each reply has a fresh token', async () => {
      const id = randomUUID();
      const tokens: string[] = [];
      for (let i = 0; i < 3; i++)
        tokens.push(invitationOf(await sendEmployeeEvent(url, CREATED, { username: 'paul' }, { id })).token);
      expect(new Set(tokens).size).to.equal(3);
      const stale = await postJson(`${base}/generate-password`, { username: 'paul', invitation_token: tokens[0] });
      expect(stale.body.code).to.equal('invalid_token');
      await createAccount(base, 'paul', { invitation_token: tokens[2] as string });
      if (kind === 'postgres') {
        const [row] = await live.backend.sql<{ deliveries: number }>(
          'SELECT deliveries FROM processed_events WHERE source = $1 AND id = $2',
          [HR_SOURCE, id],
        );
        expect(row?.deliveries).to.equal(3);
        const [count] = await live.backend.sql<{ n: number }>(
          "SELECT count(*)::int AS n FROM users WHERE username = 'paul'",
        );
        expect(count?.n).to.equal(1);
      }
    });

    it('the same event delivered concurrently leaves one account', async () => {
      const id = randomUUID();
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => sendEmployeeEvent(url, CREATED, { username: 'quinn' }, { id })),
      );
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200, 200]);
      // exactly one of the tokens handed out is the stored one
      const tokens = answers.map((a) => invitationOf(a).token);
      if (kind === 'postgres') {
        // one invited row holding one of the tokens handed out, one event seen five times
        const rows = await live.backend.sql<{ status: string; invitation_token_hash: string }>(
          "SELECT status, invitation_token_hash FROM users WHERE username = 'quinn'",
        );
        expect(rows).to.have.length(1);
        expect(rows[0]?.status).to.equal('invited');
        expect(tokens.map(hashToken)).to.include(rows[0]?.invitation_token_hash);
        const events = await live.backend.sql<{ deliveries: number }>(
          'SELECT deliveries FROM processed_events WHERE id = $1',
          [id],
        );
        expect(events).to.deep.equal([{ deliveries: 5 }]);
      }
      let accepted = 0;
      for (const token of tokens)
        if (
          (await postJson(`${base}/generate-password`, { username: 'quinn', invitation_token: token })).status === 201
        )
          accepted++;
      expect(accepted).to.equal(1);
    });

    it('finding 3: created for paweł, иван, 李雷, zoë → 200, ce-subject decodes to the exact username, one invitation each', async () => {
      const usernames = ['paweł', 'иван', '李雷', 'zoë'];
      const tokens = new Map<string, string>();
      for (const username of usernames) {
        const answer = await sendEmployeeEvent(url, CREATED, { username });
        expect(answer.status, `${username}: ${answer.text}`).to.equal(200);
        // On the wire only printable ASCII; decoded here with the platform's own
        // percent-decoder, independently of the code under test.
        const subject = answer.headers.get('ce-subject');
        expect(subject, username).to.match(/^[\x21-\x7E]+$/);
        expect(decodeURIComponent(subject as string)).to.equal(username);
        expect(answer.body.username).to.equal(username);
        // and as a receiver reads the reply event
        const event = replyEvent(answer);
        expect(event.subject).to.equal(username);
        expect(event.data?.username).to.equal(username);
        tokens.set(username, event.data?.invitation_token as string);
      }
      if (kind === 'postgres') {
        for (const username of usernames) {
          const rows = await live.backend.sql<{ status: string; invitation_token_hash: string | null }>(
            'SELECT status, invitation_token_hash FROM users WHERE username = $1',
            [username],
          );
          expect(rows, username).to.have.length(1);
          expect(rows[0]?.status).to.equal('invited');
          expect(rows[0]?.invitation_token_hash, username).to.equal(hashToken(tokens.get(username) as string));
        }
      }
    });

    it('binary-mode ce- headers are percent-decoded: three spellings of one ce-id are one event', async () => {
      const id = `hr/évènement ${randomUUID()}`;
      const spellings = [
        encodeURIComponent(id), // upper-case hex, "/" encoded needlessly (accepted)
        encodeURIComponent(id).toLowerCase().replace(/%2f/, '/'), // lower-case hex (accepted)
        Buffer.from(id, 'utf8').toString('latin1'), // raw UTF-8 bytes, as SDKs that do not encode send them
      ];
      for (const spelling of spellings) {
        const headers = {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': spelling,
          'ce-source': HR_SOURCE,
          'ce-type': CREATED,
          ...(await brokerAuthorization()),
        };
        const answer = await request(url, { method: 'POST', headers, body: '{"username":"émile"}' });
        expect(answer.status, answer.text).to.equal(200);
      }
      if (kind === 'postgres') {
        const rows = await live.backend.sql<{ deliveries: number }>(
          'SELECT deliveries FROM processed_events WHERE source = $1 AND id = $2',
          [HR_SOURCE, id],
        );
        expect(rows).to.deep.equal([{ deliveries: 3 }]);
      }
    });

    postgres.it('created for a self-registered account → account.conflict reply for IT, nothing changes', async () => {
      const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
      const rita = await createAndEnroll(base, 'rita');
      expect((await signIn(base, 'rita', rita.password, rita.secret, step - 1)).status).to.equal(200);
      for (let i = 0; i < 2; i++) {
        const answer = await sendEmployeeEvent(url, CREATED, { username: 'rita', email: 'rita@cofrap.fr' });
        expect(answer.status).to.equal(200);
        const event = replyEvent(answer);
        expect(event.type).to.equal('fr.cofrap.identity.account.conflict');
        expect(event.data).to.deep.equal({ username: 'rita', provenance: 'self' });
      }
      expect((await signIn(base, 'rita', rita.password, rita.secret, step)).status).to.equal(200);
    });

    postgres.it(
      'rehired: a disabled account is invited again, its old credentials gone; the journey ends in a sign-in',
      async () => {
        const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
        const { invitation: invited, account: first, enrolled: old } = await invitedAndActive('vera', step - 1);
        // rehired while active: nothing changes
        const early = await sendEmployeeEvent(url, REHIRED, { username: 'vera' });
        expect(early.status).to.equal(200);
        expect(early.text).to.equal('');
        expect((await sendEmployeeEvent(url, DEPARTED, { username: 'vera' })).status).to.equal(200);

        const back = await sendEmployeeEvent(url, REHIRED, { username: 'vera' });
        const invitation = invitationOf(back);
        expect(replyEvent(back).data?.email).to.equal('vera@cofrap.fr');
        expect(invitation.token).to.not.equal(invited.token);
        // the old credentials are gone (not "disabled": there is nothing to prove any more)
        expect((await signIn(base, 'vera', first.password, old.secret, step)).body.code).to.equal(
          'invalid_credentials',
        );
        expect(
          (await postJson(`${base}/generate-password`, { username: 'vera', invitation_token: invited.token })).body
            .code,
        ).to.equal('invalid_token');
        const again = await createAccount(base, 'vera', { invitation_token: invitation.token });
        const { secret } = await enroll(base, 'vera', again.enrollmentToken);
        expect((await signIn(base, 'vera', again.password, secret, step)).status).to.equal(200);
      },
    );

    postgres.it('departed before any account leaves a placeholder that rehired turns into an invitation', async () => {
      expect((await sendEmployeeEvent(url, DEPARTED, { username: 'wes' })).status).to.equal(200);
      const created = await sendEmployeeEvent(url, CREATED, { username: 'wes' });
      expect(created.text).to.equal('');
      const invitation = invitationOf(await sendEmployeeEvent(url, REHIRED, { username: 'wes' }));
      const account = await createAccount(base, 'wes', { invitation_token: invitation.token });
      const step = currentStep();
      const { secret } = await enroll(base, 'wes', account.enrollmentToken);
      expect((await signIn(base, 'wes', account.password, secret, step)).status).to.equal(200);
    });

    postgres.it(
      'reset-requested: a reset token for the mailer; the old credentials work until the reset is used; the journey ends in a sign-in',
      async () => {
        // Three fresh steps of the old secret. On PostgreSQL: step - 1 is the current step
        // (nextStep), and the third is step again once the test has moved last_totp_step back. On
        // PGlite, where the server alone holds the rows: step - 1 is the previous step, sent at once
        // with at least a second of the step left (helpers/totp.ts), and the third is step + 1.
        let step = 0;
        const { account, enrolled: old } = await invitedAndActive('xavier', async () => {
          step = kind === 'postgres' ? nextStep() : await currentStepWithRoom();
          return step - 1;
        });
        /** A step after `step` the old secret has not used, in the window for the next 30 s at least. */
        const afterStep = async (): Promise<number> => {
          if (kind !== 'postgres') return step + 1;
          await setLastTotpStep(live.backend, 'xavier', step - 1);
          return step;
        };

        const answer = await sendEmployeeEvent(
          url,
          RESET,
          { username: 'Xavier', requested_by: 'helpdesk.agent', reason: 'lost phone and codes' },
          { source: HELPDESK_SOURCE },
        );
        expect(answer.status, answer.text).to.equal(200);
        const event = replyEvent(answer);
        expect(event.type).to.equal('fr.cofrap.identity.account.reset');
        expect(event.subject).to.equal('xavier');
        expect(Object.keys(event.data ?? {}).sort()).to.deep.equal([
          'email',
          'reset_expires_at',
          'reset_token',
          'username',
        ]);
        expect(event.data?.email).to.equal('xavier@cofrap.fr');
        const hours = (new Date(event.data?.reset_expires_at as string).getTime() - Date.now()) / 3_600_000;
        expect(hours).to.be.within(23.9, 24.1);
        const resetToken = event.data?.reset_token as string;

        // the credentials in use keep working while the reset is only requested, and while it is staged
        expect((await signIn(base, 'xavier', account.password, old.secret, step)).status).to.equal(200);
        const staged = await createAccount(base, 'xavier', { reset_token: resetToken }, 200);
        expect(
          (await postJson(`${base}/generate-password`, { username: 'xavier', reset_token: resetToken })).body.code,
        ).to.equal('invalid_token');
        expect((await signIn(base, 'xavier', account.password, old.secret, await afterStep())).status).to.equal(200);
        const { secret } = await enroll(base, 'xavier', staged.enrollmentToken);
        // a staged secret has never been used: any step in the window is new for it; promoting it records step
        expect((await signIn(base, 'xavier', staged.password, secret, step)).status).to.equal(200);
        // promoted: the old ones are gone (at a step the account has not used: not refused as a replay)
        expect((await signIn(base, 'xavier', account.password, old.secret, await afterStep())).body.code).to.equal(
          'invalid_credentials',
        );
      },
    );

    postgres.it(
      'reset-requested for an account that is not active: 200, no reply; without requested_by: 400',
      async () => {
        expect((await sendEmployeeEvent(url, CREATED, { username: 'yann' })).status).to.equal(200);
        expect((await sendEmployeeEvent(url, DEPARTED, { username: 'zed' })).status).to.equal(200);
        for (const username of ['nobody.here', 'yann', 'zed']) {
          const answer = await sendEmployeeEvent(
            url,
            RESET,
            { username, requested_by: 'helpdesk.agent' },
            { source: HELPDESK_SOURCE },
          );
          expect(answer.status, answer.text).to.equal(200);
          expect(answer.text).to.equal('');
        }
        expect400(
          await sendEmployeeEvent(url, RESET, { username: 'yann' }, { source: HELPDESK_SOURCE }),
          /requested_by/,
        );
        expect400(
          await sendEmployeeEvent(url, RESET, { username: 'yann', requested_by: '   ' }, { source: HELPDESK_SOURCE }),
          /requested_by/,
        );
      },
    );

    postgres.it('departed disables: both factors proven → 403 account_disabled; no recreation', async () => {
      const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
      const sam = await createAndEnroll(base, 'sam');
      expect((await signIn(base, 'sam', sam.password, sam.secret, step - 1)).status).to.equal(200);
      const departed = await sendEmployeeEvent(url, DEPARTED, { username: 'SAM' });
      expect(departed.status, departed.text).to.equal(200);
      expect(departed.text).to.equal('');
      const refused = await signIn(base, 'sam', sam.password, sam.secret, step);
      expect(refused.status, refused.text).to.equal(403);
      expect(refused.body.code).to.equal('account_disabled');
      // without both factors, nothing is revealed
      const wrong = await postJson(`${base}/authenticate`, { username: 'sam', password: 'nope', totp: '123456' });
      expect(wrong.status).to.equal(401);
      expect((await postJson(`${base}/generate-password`, { username: 'sam' })).body.code).to.equal('account_exists');
      // redelivery is harmless
      expect((await sendEmployeeEvent(url, DEPARTED, { username: 'sam' })).status).to.equal(200);
      // a later created event does not bring the account back (rehired does)
      const recreated = await sendEmployeeEvent(url, CREATED, { username: 'sam' });
      expect(recreated.status).to.equal(200);
      expect(recreated.text).to.equal('');
    });

    postgres.it(
      'departed voids everything staged and every live token: a disabled account holds no usable staged credential or token; a re-hire starts over',
      async () => {
        const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
        const dana = await createAndEnroll(base, 'dana');
        expect((await signIn(base, 'dana', dana.password, dana.secret, step - 1)).status).to.equal(200);
        // a helpdesk reset used and its authenticator enrolled: a staged password, secret and recovery codes, the
        // sealed copy of the codes its enrollment token would show again; then a second reset token, still unused
        const resetToken = async (): Promise<string> =>
          replyEvent(
            await sendEmployeeEvent(
              url,
              RESET,
              { username: 'dana', requested_by: 'helpdesk.agent' },
              { source: HELPDESK_SOURCE },
            ),
          ).data?.reset_token as string;
        const staged = await createAccount(base, 'dana', { reset_token: await resetToken() }, 200);
        const stagedFactor = await enroll(base, 'dana', staged.enrollmentToken);
        const liveReset = await resetToken();

        expect((await sendEmployeeEvent(url, DEPARTED, { username: 'dana' })).status).to.equal(200);
        if (kind === 'postgres') {
          const [row] = await live.backend.sql(
            `SELECT staged_password_hash, staged_mfa_secret, staged_recovery_code_digests, enrollment_recovery_codes,
                  enrollment_token_hash, renewal_token_hash, invitation_token_hash, reset_token_hash
             FROM users WHERE username = 'dana'`,
          );
          expect(
            Object.entries(row ?? {})
              .filter(([, value]) => value !== null)
              .map(([column]) => column),
            'kept on the disabled account',
          ).to.deep.equal([]);
        }
        // nothing staged or handed out opens anything: the tokens are void, the staged factors unknown
        expect(
          (await postJson(`${base}/generate-2fa`, { username: 'dana', enrollment_token: staged.enrollmentToken })).body
            .code,
        ).to.equal('invalid_token');
        expect(
          (await postJson(`${base}/generate-password`, { username: 'dana', reset_token: liveReset })).body.code,
        ).to.equal('invalid_token');
        expect((await signIn(base, 'dana', staged.password, stagedFactor.secret, step)).body.code).to.equal(
          'invalid_credentials',
        );
        const stagedCode = await postJson(`${base}/authenticate`, {
          username: 'dana',
          password: dana.password,
          recovery_code: stagedFactor.recoveryCodes[0],
        });
        expect(stagedCode.body.code).to.equal('invalid_credentials');
        // the credentials in use answer only what the contract tells whoever proves both factors (§6)
        expect((await signIn(base, 'dana', dana.password, dana.secret, step)).body.code).to.equal('account_disabled');
        const code = await postJson(`${base}/authenticate`, {
          username: 'dana',
          password: dana.password,
          recovery_code: dana.recoveryCodes[0],
        });
        expect(code.body.code, code.text).to.equal('account_disabled');

        // the re-hire starts from a fresh invitation: the old credentials and recovery codes are gone
        const invitation = invitationOf(await sendEmployeeEvent(url, REHIRED, { username: 'dana' }));
        if (kind === 'postgres') {
          const [row] = await live.backend.sql(
            "SELECT password_hash, mfa_secret, recovery_code_digests FROM users WHERE username = 'dana'",
          );
          expect(row).to.deep.equal({ password_hash: null, mfa_secret: null, recovery_code_digests: [] });
        }
        const again = await createAccount(base, 'dana', { invitation_token: invitation.token });
        const { secret } = await enroll(base, 'dana', again.enrollmentToken);
        expect((await signIn(base, 'dana', again.password, secret, step)).status).to.equal(200);
        // the old recovery code, with the old password or the new one
        for (const [which, password] of [
          ['old', dana.password],
          ['new', again.password],
        ] as const)
          expect(
            (
              await postJson(`${base}/authenticate`, {
                username: 'dana',
                password,
                recovery_code: dana.recoveryCodes[1],
              })
            ).body.code,
            `the old recovery code with the ${which} password`,
          ).to.equal('invalid_credentials');
      },
    );

    postgres.it('departed before any account blocks self-registration of that username', async () => {
      expect((await sendEmployeeEvent(url, DEPARTED, { username: 'tess' })).status).to.equal(200);
      expect((await postJson(`${base}/generate-password`, { username: 'tess' })).body.code).to.equal('account_exists');
    });

    postgres.it('an invitation disabled by departure no longer works', async () => {
      const invitation = invitationOf(await sendEmployeeEvent(url, CREATED, { username: 'ugo' }));
      await sendEmployeeEvent(url, DEPARTED, { username: 'ugo' });
      const answer = await postJson(`${base}/generate-password`, {
        username: 'ugo',
        invitation_token: invitation.token,
      });
      expect(answer.status).to.equal(401);
      expect(answer.body.code).to.equal('invalid_token');
    });

    describe('errors the broker must not retry → 400', () => {
      const ce = (over: Record<string, string | undefined> = {}): Record<string, string> => {
        const headers: Record<string, string | undefined> = {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': randomUUID(),
          'ce-source': HR_SOURCE,
          'ce-type': CREATED,
          ...over,
        };
        return Object.fromEntries(
          Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
        );
      };
      // signed by the broker: these reach the event parser on both databases
      const post = async (headers: Record<string, string>, body: string): Promise<Answer> =>
        request(url, { method: 'POST', headers: { ...headers, ...(await brokerAuthorization()) }, body });

      it('plain JSON that is not a CloudEvent', async () =>
        expect400(await postJson(url, { username: 'x' }, await brokerAuthorization()), /CloudEvent/));
      it('binary mode without ce-id', async () =>
        expect400(await post(ce({ 'ce-id': undefined }), '{"username":"x"}'), /CloudEvent/));
      it('binary mode without ce-source', async () =>
        expect400(await post(ce({ 'ce-source': undefined }), '{"username":"x"}'), /CloudEvent/));
      it('an unsupported type', async () =>
        expect400(await post(ce({ 'ce-type': 'fr.cofrap.hr.employee.promoted' }), '{"username":"x"}'), /type/));
      it('specversion 0.3', async () =>
        expect400(await post(ce({ 'ce-specversion': '0.3' }), '{"username":"x"}'), /specversion/));
      it('data that is not JSON', async () => expect400(await post(ce(), '{"username": '), /JSON/));
      it('text data', async () =>
        expect400(await post(ce({ 'content-type': 'text/plain' }), 'username=x'), /username/));
      it('data without a username', async () => expect400(await post(ce(), '{"email":"x@cofrap.fr"}'), /username/));
      it('an invalid username', async () =>
        expect400(await post(ce(), '{"username":"no spaces allowed"}'), /username/));
      it('a display_name that is not a string', async () =>
        expect400(await post(ce(), '{"username":"x","display_name":7}'), /display_name/));
      it('a ce- header with an overlong UTF-8 percent-encoding', async () =>
        expect400(await post(ce({ 'ce-id': 'a%C0%A0b' }), '{"username":"x"}'), /ce-id/));
      it('a ce- header with a bare %', async () =>
        expect400(await post(ce({ 'ce-subject': '50%' }), '{"username":"x"}'), /ce-subject/));
      it('a ce-id of 257 characters (256 are accepted)', async () => {
        expect400(await post(ce({ 'ce-id': 'i'.repeat(257) }), '{"username":"x"}'), /id is longer than 256/);
        // counted in characters, not bytes: 256 × "é" (512 bytes of UTF-8) is accepted
        expect(
          (
            await post(
              ce({ 'ce-id': encodeURIComponent('é'.repeat(256)), 'ce-type': DEPARTED }),
              '{"username":"long.id"}',
            )
          ).status,
        ).to.equal(200);
      });
      it('a source of 257 characters, binary or structured', async () => {
        const source = `${HR_SOURCE}/${'s'.repeat(256 - HR_SOURCE.length)}`;
        expect400(await post(ce({ 'ce-source': source }), '{"username":"x"}'), /source is longer than 256/);
        const body = JSON.stringify({
          specversion: '1.0',
          id: '1',
          source,
          type: CREATED,
          datacontenttype: 'application/json',
          data: { username: 'x' },
        });
        expect400(await post({ 'content-type': 'application/cloudevents+json' }, body), /source is longer than 256/);
      });
      it('a batch', async () => {
        const body = JSON.stringify([
          { specversion: '1.0', id: '1', source: HR_SOURCE, type: CREATED, data: { username: 'x' } },
        ]);
        expect400(await post({ 'content-type': 'application/cloudevents-batch+json' }, body), /[Bb]atch/);
      });
      it('a structured event with specversion 0.3', async () => {
        const body = JSON.stringify({
          specversion: '0.3',
          id: '1',
          source: HR_SOURCE,
          type: CREATED,
          datacontenttype: 'application/json',
          data: { username: 'x' },
        });
        expect400(await post({ 'content-type': 'application/cloudevents+json' }, body), /specversion/);
      });
      it('GET → 405', async () => {
        const answer = await request(url);
        expect(answer.status).to.equal(405);
        expect(answer.headers.get('allow')).to.equal('POST');
      });
      it('a refused event creates no account', async () => {
        // refused for its type, its specversion and its batch form, each naming refused.hire
        expect400(
          await post(ce({ 'ce-type': 'fr.cofrap.hr.employee.promoted' }), '{"username":"refused.hire"}'),
          /type/,
        );
        expect400(await post(ce({ 'ce-specversion': '0.3' }), '{"username":"refused.hire"}'), /specversion/);
        const batch = JSON.stringify([
          { specversion: '1.0', id: '1', source: HR_SOURCE, type: CREATED, data: { username: 'refused.hire' } },
        ]);
        expect400(await post({ 'content-type': 'application/cloudevents-batch+json' }, batch), /[Bb]atch/);
        // no invitation was made: the username is still free to self-register
        expect((await postJson(`${base}/generate-password`, { username: 'refused.hire' })).status).to.equal(201);
      });
    });
  });
}

// In-process (test/helpers/in-process.ts) on PostgreSQL, where time is moved by writing the
// invitation's deadline.
describe('invitations only (SELF_REGISTRATION=false), in-process on postgres', function () {
  const live = useInProcessServer({ SELF_REGISTRATION: 'false' });

  it('creates an invited username with its token, and nothing else', async () => {
    const invitation = invitationOf(
      await sendEmployeeEvent(`${live.url}/employee-events`, CREATED, { username: 'vera' }),
    );
    expect((await postJson(`${live.url}/generate-password`, { username: 'walk.in' })).body.code).to.equal(
      'invalid_token',
    );
    await createAccount(live.url, 'vera', { invitation_token: invitation.token });
  });

  it('refuses a lapsed invitation', async () => {
    const invitation = invitationOf(
      await sendEmployeeEvent(`${live.url}/employee-events`, CREATED, { username: 'wes' }),
    );
    const lapsed = await live.backend.sql(
      "UPDATE users SET invitation_expires_at = now() - interval '1 second' WHERE username = 'wes' RETURNING username",
    );
    expect(lapsed).to.have.length(1);
    expect(
      (await postJson(`${live.url}/generate-password`, { username: 'wes', invitation_token: invitation.token })).body
        .code,
    ).to.equal('invalid_token');
  });
});
