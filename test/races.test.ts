// Races on one account, over real HTTP: concurrent creations of one username (on both
// databases: on PGlite, fifty requests share its one session), and on PostgreSQL
// concurrent enrollments with one token and concurrent failed sign-ins around the
// throttle threshold. Each must end with exactly one winner, and (on PostgreSQL, where the
// rows can be read) consistent rows. (Two processes sharing the throttle: brute-force.test.ts.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { BACKENDS, onPostgresOnly, useServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import { decodeQrPng } from './helpers/qr.js';
import { currentStep } from './helpers/totp.js';
import { SecretBox } from '../lib/crypto/fernet.js';
import { hashToken } from '../lib/crypto/tokens.js';
import { THRESHOLD } from '../lib/db/throttle.js';

const count = (answers: Answer[], status: number): number => answers.filter((a) => a.status === status).length;

for (const kind of BACKENDS) {
  describe(`races on ${kind}`, function () {
    const live = useServer(kind);
    const postgres = onPostgresOnly(kind);
    const secretBox = (): SecretBox =>
      new SecretBox(readFileSync(path.join(live.backend.secretsDir, 'encryption-key'), 'utf8').trim().split('\n'));

    postgres.it(
      'finding 6: 20 concurrent generate-2fa calls with one token all answer 200 with the one stored secret',
      async () => {
        const base = live.url;
        const { password, enrollmentToken } = await createAccount(base, 'twin.phones');
        const answers = await Promise.all(
          Array.from({ length: 20 }, () =>
            postJson(`${base}/generate-2fa`, { username: 'twin.phones', enrollment_token: enrollmentToken }),
          ),
        );
        expect(answers.map((a) => a.status)).to.deep.equal(Array(20).fill(200));
        const answered = answers.map((a) => {
          const qrSecret = new URL(decodeQrPng(a.body.qr_code_2fa_base64 as string)).searchParams.get('secret');
          expect(qrSecret).to.equal(a.body.manual_entry_key);
          return qrSecret as string;
        });
        expect(new Set(answered).size, 'one secret in every answer').to.equal(1);
        const [secret] = answered as [string];

        if (kind === 'postgres') {
          const [row] = await live.backend.sql<{ mfa_secret: string; last_totp_step: number | null; status: string }>(
            "SELECT mfa_secret, last_totp_step, status FROM users WHERE username = 'twin.phones'",
          );
          expect(secretBox().decrypt(row?.mfa_secret as string), 'the stored secret').to.equal(secret);
          expect(row).to.include({ last_totp_step: null, status: 'pending' });
        }
        // a later call with the same token (a lost scan) answers it again
        expect((await enroll(base, 'twin.phones', enrollmentToken)).secret).to.equal(secret);
        expect((await signIn(base, 'twin.phones', password, secret, currentStep())).status).to.equal(200);
      },
    );

    postgres.it(
      `20 concurrent wrong sign-ins from one address: at most ${THRESHOLD} are checked (401), the rest 429, and the right password is refused from there while locked`,
      async () => {
        const base = live.url;
        const account = await createAndEnroll(base, 'under.siege');
        let failuresFromAddress = 0;
        for (const username of ['under.siege', 'no.such.person']) {
          const answers = await Promise.all(
            Array.from({ length: 20 }, () =>
              postJson(`${base}/authenticate`, { username, password: 'guess-guess', totp: '000000' }),
            ),
          );
          const refused = count(answers, 401);
          expect(refused, `${username}: ${answers.map((a) => a.status).join()}`).to.be.within(1, THRESHOLD);
          expect(count(answers, 429)).to.equal(20 - refused);
          for (const locked of answers.filter((a) => a.status === 429))
            expect(Number(locked.headers.get('retry-after'))).to.be.within(1, 30);
          if (kind === 'postgres') {
            // no proxy in front (TRUSTED_PROXY_HOPS=0): the address is the TCP peer's
            const rows = await live.backend.sql<{ client_address: string; failures: number; locked: boolean }>(
              'SELECT client_address, failures, locked_until > now() AS locked FROM auth_throttle WHERE username = $1',
              [username],
            );
            // every attempt that was checked is counted, and none other
            expect(rows).to.deep.equal([
              { client_address: '127.0.0.1', failures: refused, locked: refused === THRESHOLD },
            ]);
            const [ceiling] = await live.backend.sql<{ failures: number }>(
              'SELECT failures FROM auth_throttle_username WHERE username = $1',
              [username],
            );
            expect(ceiling?.failures).to.equal(refused);
            // a refused attempt counts nowhere: not towards the address either
            failuresFromAddress += refused;
            const [address] = await live.backend.sql<{ n: number }>(
              "SELECT cardinality(failed_at) AS n FROM auth_throttle_address WHERE client_address = '127.0.0.1'",
            );
            expect(address?.n).to.equal(failuresFromAddress);
          }
        }
        const locked = await signIn(base, 'under.siege', account.password, account.secret, currentStep());
        expect(locked.status, locked.text).to.equal(429);
        expect(locked.body.code).to.equal('too_many_requests');
      },
    );

    it("50 simultaneous creations of one username make one account and 49 × 409: the winner's password and token", async () => {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => postJson(`${live.url}/generate-password`, { username: 'race.user' })),
      );
      expect(count(answers, 201)).to.equal(1);
      expect(count(answers, 409)).to.equal(49);
      const winner = answers.find((a) => a.status === 201) as Answer;
      const password = decodeQrPng(winner.body.qr_code_base64 as string);
      if (kind === 'postgres') {
        const rows = await live.backend.sql<{
          password_hash: string;
          enrollment_token_hash: string;
          status: string;
          mfa_secret: string | null;
        }>("SELECT password_hash, enrollment_token_hash, status, mfa_secret FROM users WHERE username = 'race.user'");
        expect(rows).to.have.length(1);
        expect(rows[0]).to.include({
          status: 'pending',
          mfa_secret: null,
          enrollment_token_hash: hashToken(winner.body.enrollment_token as string),
        });
        expect(await bcrypt.compare(password, rows[0]?.password_hash as string)).to.equal(true);
      }
      // on either database, the winner's token enrolls and its password signs in
      const { secret } = await enroll(live.url, 'race.user', winner.body.enrollment_token as string);
      expect((await signIn(live.url, 'race.user', password, secret, currentStep())).status).to.equal(200);
    });
  });
}
