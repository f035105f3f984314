// The housekeeping function (issue 16, contract §12) over real HTTP on the development
// server and a real PostgreSQL: expiry reminders, pruning, and its sender check. Time is
// moved by writing timestamps.
import { expect } from 'chai';
import { requireBackend, useServer } from './helpers/backends.js';
import type { LiveServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, signIn } from './helpers/journey.js';
import { brokerAuthorization } from './helpers/oidc.js';
import { currentStep } from './helpers/totp.js';

const tick = async (live: LiveServer): Promise<Answer> =>
  postJson(`${live.url}/housekeeping`, { specversion: '1.0' }, await brokerAuthorization());

// A maximum age in days, so that "expires in N days" is exact (calendar months are not).
const MAX_AGE = '180 days';

/** Sets an active account's credentials to expire `expiresIn` from now (a PostgreSQL interval). */
const expireIn = (live: LiveServer, username: string, expiresIn: string): Promise<unknown> =>
  live.backend.sql('UPDATE users SET created_at = now() - $3::interval + $2::interval WHERE username = $1', [
    username,
    expiresIn,
    MAX_AGE,
  ]);

describe('housekeeping on postgres', function () {
  const live = useServer('postgres', { CREDENTIAL_MAX_AGE: MAX_AGE });
  before(async function () {
    await requireBackend(this, 'postgres');
  });

  it("refuses a tick without the sender's token (401), and answers counts with one", async () => {
    const refused = await postJson(`${live.url}/housekeeping`, {});
    expect(refused.status).to.equal(401);
    const answer = await tick(live);
    expect(answer.status, answer.text).to.equal(200);
    expect(answer.body).to.have.keys('delivered', 'failed', 'reminders', 'pruned');
  });

  it('publishes exactly the due reminders, once, over several ticks and two at once; a new credential generation starts over', async () => {
    const cases: Array<[string, string, string | null]> = [
      ['rm.31', '31 days', null],
      ['rm.30', '30 days - 1 minute', '30 days'],
      ['rm.8', '8 days', '30 days'],
      ['rm.7', '7 days - 1 minute', '7 days'],
      ['rm.1', '1 day - 1 minute', '1 day'],
    ];
    for (const [username, expiresIn] of cases) {
      const account = await createAndEnroll(live.url, username);
      expect((await signIn(live.url, username, account.password, account.secret, currentStep())).status).to.equal(200);
      await expireIn(live, username, expiresIn);
    }
    const [first, second] = await Promise.all([tick(live), tick(live)]);
    expect(first.status, first.text).to.equal(200);
    expect(second.status, second.text).to.equal(200);
    expect((await tick(live)).body.reminders).to.equal(0);

    const published = await live.backend.sql<{ username: string; details: { threshold: string; days_left: number } }>(
      "SELECT username, details FROM audit_log WHERE type = 'credentials.expiring' AND username LIKE 'rm.%' ORDER BY username",
    );
    const expected = cases
      .filter(([, , threshold]) => threshold !== null)
      .map(([username, , threshold]) => [username, threshold]);
    expect(published.map((r) => [r.username, r.details.threshold])).to.deep.equal(expected.sort());
    expect(Number(first.body.reminders) + Number(second.body.reminders)).to.equal(expected.length);
    const [events] = await live.backend.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE type = 'fr.cofrap.identity.credentials.expiring' AND subject LIKE 'rm.%'",
    );
    expect(events?.n).to.equal(expected.length);

    // the 8-day account moves on to 7 days: its next reminder, once
    await expireIn(live, 'rm.8', '7 days - 1 minute');
    expect((await tick(live)).body.reminders).to.equal(1);
    // renewed (a new generation of credentials), then close to expiry again: reminded again
    await live.backend.sql("UPDATE users SET created_at = now() WHERE username = 'rm.1'");
    expect((await tick(live)).body.reminders).to.equal(0);
    await expireIn(live, 'rm.1', '1 day - 1 minute');
    expect((await tick(live)).body.reminders).to.equal(1);
  });

  it('prunes old processed events, self-registrations never activated within 7 days, and audit records past AUDIT_RETENTION', async () => {
    await createAccount(live.url, 'pr.abandoned');
    await createAccount(live.url, 'pr.recent');
    await live.backend.sql(
      "UPDATE users SET created_at = now() - interval '8 days', enrollment_expires_at = now() - interval '8 days' WHERE username = 'pr.abandoned'",
    );
    await live.backend.sql(
      "INSERT INTO processed_events (source, id, type, username, first_seen_at) VALUES ('/hr/workday', 'old-1', 'x', 'nobody', now() - interval '31 days'), ('/hr/workday', 'new-1', 'x', 'nobody', now())",
    );
    await live.backend.sql(
      "INSERT INTO audit_log (time, type, username, actor) VALUES (now() - interval '401 days', 'signin.failed', 'pr.old', 'self')",
    );
    const answer = await tick(live);
    expect(answer.status, answer.text).to.equal(200);
    const pruned = answer.body.pruned as Record<string, number>;
    expect(pruned.registrations).to.equal(1);
    expect(pruned.processedEvents).to.equal(1);
    expect(pruned.audit).to.equal(1);
    expect(
      (
        await live.backend.sql<{ username: string }>(
          "SELECT username FROM users WHERE username LIKE 'pr.%' ORDER BY username",
        )
      ).map((r) => r.username),
    ).to.deep.equal(['pr.recent']);
    expect(
      (
        await live.backend.sql<{ id: string }>(
          "SELECT id FROM processed_events WHERE source = '/hr/workday' AND id IN ('old-1', 'new-1')",
        )
      ).map((r) => r.id),
    ).to.deep.equal(['new-1']);
    // the freed name can be registered again
    expect((await postJson(`${live.url}/generate-password`, { username: 'pr.abandoned' })).status).to.equal(201);
  });
});
