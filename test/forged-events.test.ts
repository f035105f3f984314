// Regression tests for the forged HR events a security review sent (issue 14), each
// replayed as it was done against the development server on a real PostgreSQL with
// self-registration off, and now changing nothing. The server trusts the run's broker
// issuer (test/helpers/oidc.ts); the forger has no broker token, or one of its own.
import { expect } from 'chai';
import { requireBackend, useServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import { createAccount, enroll, signIn } from './helpers/journey.js';
import { BROKER, TestIssuer } from './helpers/oidc.js';
import { replyEvent, sendEmployeeEvent } from './helpers/events.js';
import { currentStep, nextStep } from './helpers/totp.js';

const CREATED = 'fr.cofrap.hr.employee.created';
const DEPARTED = 'fr.cofrap.hr.employee.departed';

describe('forged HR events on postgres (issue 14)', function () {
  const live = useServer('postgres', { SELF_REGISTRATION: 'false' });
  let forger: TestIssuer;
  before(async function () {
    await requireBackend(this, 'postgres');
    // A key pair of the forger's own, with every claim the broker's token has.
    forger = await TestIssuer.start({ issuer: BROKER.issuer, audience: BROKER.audience, subject: BROKER.subject });
  });
  after(() => forger?.stop());

  const counts = async (): Promise<{ users: number; events: number }> => {
    const [row] = await live.backend.sql<{ users: number; events: number }>(
      'SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM processed_events) AS events',
    );
    return row as { users: number; events: number };
  };
  /** Each way the forger tried: no token, a token signed by the forger's own key. */
  const forgeries = async (): Promise<Array<{ label: string; token: string | null }>> => [
    { label: 'no token', token: null },
    { label: 'a token of its own key', token: await forger.token() },
  ];

  it('a forged created for "mallory" returns no invitation token and creates no account', async () => {
    const url = `${live.url}/employee-events`;
    const before = await counts();
    for (const { label, token } of await forgeries()) {
      const answer = await sendEmployeeEvent(url, CREATED, { username: 'mallory' }, { token });
      expect(answer.status, label).to.equal(401);
      expect(answer.body.code, label).to.equal('unauthenticated');
      expect(answer.text, label).to.not.match(/invitation_token/);
    }
    expect(await counts()).to.deep.equal(before);
    // and without an invitation nobody can create the account by name
    expect((await postJson(`${live.url}/generate-password`, { username: 'mallory' })).body.code).to.equal(
      'invalid_token',
    );
  });

  it('a forged second created does not void the invitation HR sent nora.petit', async () => {
    const url = `${live.url}/employee-events`;
    const invitation = replyEvent(
      await sendEmployeeEvent(url, CREATED, { username: 'nora.petit', email: 'nora.petit@cofrap.fr' }),
    ).data?.invitation_token as string;
    for (const { token } of await forgeries())
      expect((await sendEmployeeEvent(url, CREATED, { username: 'nora.petit' }, { token })).status).to.equal(401);
    // an event from a source HR does not own, even with the broker's token, is refused too
    expect(
      (await sendEmployeeEvent(url, CREATED, { username: 'nora.petit' }, { source: '/somewhere/else' })).status,
    ).to.equal(403);
    const account = await createAccount(live.url, 'nora.petit', { invitation_token: invitation });
    const step = currentStep();
    const { secret } = await enroll(live.url, 'nora.petit', account.enrollmentToken);
    expect((await signIn(live.url, 'nora.petit', account.password, secret, step)).status).to.equal(200);
  });

  it('a forged departed does not disable an active employee, nor leave a placeholder for a future hire', async () => {
    const url = `${live.url}/employee-events`;
    const invitation = replyEvent(await sendEmployeeEvent(url, CREATED, { username: 'omar.k' })).data
      ?.invitation_token as string;
    const account = await createAccount(live.url, 'omar.k', { invitation_token: invitation });
    const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
    const { secret } = await enroll(live.url, 'omar.k', account.enrollmentToken);
    expect((await signIn(live.url, 'omar.k', account.password, secret, step - 1)).status).to.equal(200);
    const before = await counts();
    for (const { token } of await forgeries()) {
      expect((await sendEmployeeEvent(url, DEPARTED, { username: 'omar.k' }, { token })).status).to.equal(401);
      expect((await sendEmployeeEvent(url, DEPARTED, { username: 'future.hire' }, { token })).status).to.equal(401);
    }
    expect(await counts()).to.deep.equal(before);
    expect((await signIn(live.url, 'omar.k', account.password, secret, step)).status).to.equal(200);
    // HR's real created for the future hire then invites them
    expect(replyEvent(await sendEmployeeEvent(url, CREATED, { username: 'future.hire' })).type).to.equal(
      'fr.cofrap.identity.account.invited',
    );
  });
});
