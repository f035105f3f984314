// The portal's journeys after day one, in headless Chromium on PostgreSQL (time moved by
// writing the account's timestamps): expired credentials and their renewal, a setup page
// lost before its first sign-in, the recovery codes, a lost phone, an early renewal, a
// helpdesk reset link, few recovery codes left. The first journeys: portal.test.ts.
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { useServer } from './helpers/backends.js';
import { launchChromium, readQrFromSource, snap } from './helpers/browser.js';
import { postJson } from './helpers/http.js';
import { sendEmployeeEvent, replyEvent } from './helpers/events.js';
import { codeAt } from './helpers/totp.js';
import {
  DESKTOP,
  PHONE,
  VIEWPORTS,
  Account,
  nextCode,
  stepAfter,
  signInOldThenNew,
  section,
  message,
  openPortal,
  focusedId,
  pageProblems,
  NEW_CREDENTIALS,
  NEW_AUTHENTICATOR,
  CODE_SHAPE,
  codesAnswered,
  readAuthenticator,
  saveCodes,
  activateIn,
  finishEnrollment,
  expectSignedIn,
  signInForm,
  activeOverHttp,
  recoverOverHttp,
  expectNothingKept,
} from './helpers/portal.js';

describe('portal: recovery codes, lost phone, renewal, a lost setup page (PostgreSQL, ENROLLMENT_TTL 20 min)', function () {
  this.timeout(120_000);
  const live = useServer('postgres', { ENROLLMENT_TTL: '20 min' });
  let browser: Browser;
  before(async function () {
    browser = await launchChromium(this);
  });
  after(async () => browser?.close());

  /** authenticate's answers played by a stand-in (page.route): signed in as `username`, `codesLeft` recovery codes left. */
  async function answerSignedIn(page: Page, username: string, codesLeft: number): Promise<void> {
    await page.route('**/authenticate', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          authenticated: true,
          username,
          expires_at: '2027-05-01T00:00:00.000Z',
          recovery_codes_left: codesLeft,
        }),
      }),
    );
  }

  /** One of ten fresh recovery codes signs in over HTTP, and nine are left. */
  async function expectFirstOfTenSignsIn(account: Pick<Account, 'username' | 'password'>, code: string): Promise<void> {
    const used = await recoverOverHttp(live.url, account, code);
    expect(used.status, used.text).to.equal(200);
    expect(used.body.recovery_codes_left).to.equal(9);
  }

  it('expired credentials: a warning, said once, then the renewal → new password QR code, new 2FA QR code, first code → signed in (the warning on a phone, the renewal on a desktop)', async () => {
    const carol = await activeOverHttp(live, 'carol');
    // Seven months on, written in the database rather than waited for.
    await live.backend.sql("UPDATE users SET created_at = now() - interval '7 months' WHERE username = 'carol'");
    for (const [name, viewport] of [
      ['phone', PHONE],
      ['desktop', DESKTOP],
    ] as const) {
      const { context, page } = await openPortal(browser, live.url, viewport);
      try {
        await signInForm(page, carol, await nextCode(carol));
        const expired = section(page, 'Your credentials have expired');
        await expired.waitFor();
        const warning = expired.locator('.warning');
        await warning
          .getByText(
            /^Your password and code are right, but your credentials are more than six months old and must be renewed\. Renew them now, before .*: you get a new password/,
          )
          .waitFor();
        expect(
          await page.evaluate<string>(
            'getComputedStyle(document.querySelector("#view-expired .warning")).backgroundColor',
          ),
          'the warning style',
        ).to.equal('rgb(255, 244, 214)');
        expect(await message(page).isVisible(), 'said once: not again in the message box').to.equal(false);
        expect((await page.evaluate<string>('document.body.innerText')).match(/must be renewed/g)).to.have.length(1);
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).to.be.at.most(viewport.width);
        await snap(page, `expired-${name}-1-explained`);
        if (viewport === PHONE) continue;
        const sent = page.waitForRequest((r) => r.url().endsWith('/generate-password'));
        await expired.getByRole('button', { name: 'Renew my credentials' }).click();
        const body = (await sent).postDataJSON() as Record<string, string>;
        expect(body.username).to.equal('carol');
        expect(body.renewal_token).to.be.a('string').with.length.greaterThan(20);
        const renewed = await finishEnrollment(page, 'carol', 'expired-2-renewal', carol.lastStep);
        expect(renewed.password).to.not.equal(carol.password);
        expect(renewed.secret).to.not.equal(carol.secret);
        expect(pageProblems(page)).to.deep.equal([]);
      } finally {
        await context.close();
      }
    }
  });

  for (const [name, viewport] of VIEWPORTS) {
    it(`a setup page lost before its first sign-in: the 409 says the name frees when the enrollment window lapses (20 minutes), and it does; an invitation link works again (${name})`, async () => {
      const username = `lost.${name}`;
      const { context, page } = await openPortal(browser, live.url, viewport, '/?create');
      try {
        const create = section(page, 'Create an account');
        const createAgain = async (): Promise<void> => {
          await create.getByLabel('Username').fill(username);
          await create.getByRole('button', { name: 'Create my account' }).click();
        };
        await createAgain();
        await section(page, NEW_CREDENTIALS.password).waitFor();
        // The page is lost (a reload, a tab the phone dropped) during the password step: the browser asks first.
        const asked = new Promise<string>((resolve) =>
          page.once('dialog', (dialog) => {
            resolve(dialog.type());
            void dialog.accept();
          }),
        );
        await page.reload();
        expect(await asked, 'the page asks before a reload loses the setup').to.equal('beforeunload');
        await page.locator('html[data-ready="true"]').waitFor();
        await createAgain();
        await message(page)
          .getByText(
            /Created it here yourself and lost the setup page before its first sign-in\? The name is freed 20 minutes after you started: create it again then\.$/,
          )
          .waitFor();
        await snap(page, `lost-setup-${name}-0-taken`);
        // So it is: the enrollment window lapses (moved in the database), and the same name starts over.
        await live.backend.sql(
          "UPDATE users SET enrollment_expires_at = now() - interval '1 second' WHERE username = $1",
          [username],
        );
        await createAgain();
        const step1 = section(page, NEW_CREDENTIALS.password);
        expect(
          (await readQrFromSource(step1.getByRole('img', { name: 'QR code of your new password' }))).length,
        ).to.equal(24);
      } finally {
        await context.close();
      }

      // Invited: the link starts over while the invitation is valid, and the 409 says so.
      const invitee = `invited.${name}`;
      const invited = await sendEmployeeEvent(`${live.url}/employee-events`, 'fr.cofrap.hr.employee.created', {
        username: invitee,
      });
      expect(invited.status, invited.text).to.equal(200);
      const link = `/?username=${invitee}&invitation=${encodeURIComponent(replyEvent(invited).data?.invitation_token as string)}`;
      const again = await openPortal(browser, live.url, viewport, link);
      try {
        const create = section(again.page, 'Create an account');
        await create.getByRole('button', { name: 'Create my account' }).click();
        await section(again.page, NEW_CREDENTIALS.password).waitFor();
        again.page.once('dialog', (dialog) => void dialog.accept());
        await again.page.reload();
        await again.page.locator('html[data-ready="true"]').waitFor();
        await again.page.getByRole('banner').getByRole('button', { name: 'Create an account' }).click();
        await create.getByLabel('Username').fill(invitee);
        await create.getByRole('button', { name: 'Create my account' }).click();
        await message(again.page)
          .getByText(
            /Invited by HR and lost the setup page\? Open your invitation link again: it works until the account is activated\./,
          )
          .waitFor();
        await again.page.goto(live.url + link);
        await again.page.locator('html[data-ready="true"]').waitFor();
        await create.getByRole('button', { name: 'Create my account' }).click();
        const password = await readQrFromSource(
          section(again.page, NEW_CREDENTIALS.password).getByRole('img', { name: 'QR code of your new password' }),
        );
        expect(password).to.have.length(24);
        expect(pageProblems(again.page)).to.deep.equal([]);
      } finally {
        await again.context.close();
      }
    });
  }

  it('shows the 10 recovery codes after the authenticator step, downloads them as text made in the page, copies them, and goes on only once "I have saved them" is ticked (phone, 390×844)', async () => {
    const { context, page } = await openPortal(browser, live.url, PHONE);
    try {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: live.url });
      await page.getByRole('button', { name: 'Create an account' }).click();
      await section(page, 'Create an account').getByLabel('Username').fill('dana');
      await page.getByRole('button', { name: 'Create my account' }).click();
      const step1 = section(page, NEW_CREDENTIALS.password);
      const password = await readQrFromSource(step1.getByRole('img', { name: 'QR code of your new password' }));
      const codes = await codesAnswered(page);
      await step1.getByRole('button', { name: /next: two-factor setup/ }).click();
      const secret = await readAuthenticator(page, NEW_CREDENTIALS, 'codes-phone-0');
      const answered = await codes();

      const step = section(page, NEW_CREDENTIALS.codes);
      const list = step.getByRole('list', { name: 'Your recovery codes' });
      expect((await list.getByRole('listitem').allTextContents()).map((item) => item.trim())).to.deep.equal(answered);
      expect(
        await page.evaluate<string>('getComputedStyle(document.querySelector("#recovery-codes code")).fontFamily'),
      ).to.match(/mono/i);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).to.be.at.most(PHONE.width);
      await snap(page, 'codes-phone-1-shown');

      // The gate: not ticked, no way on.
      await step.getByRole('button', { name: 'Continue to the first sign-in' }).click();
      await message(page)
        .getByText(/Save your recovery codes first .* then tick "I have saved them"/)
        .waitFor();
      expect(await step.isVisible()).to.equal(true);
      expect(await focusedId(page)).to.equal('codes-saved');
      await snap(page, 'codes-phone-2-not-ticked');

      // Download as text: a file made in the page, without any request.
      const requests: string[] = [];
      const onRequest = (r: { url(): string }): void => void requests.push(r.url());
      page.on('request', onRequest);
      const downloading = page.waitForEvent('download');
      await step.getByRole('button', { name: 'Download as text' }).click();
      const download = await downloading;
      page.off('request', onRequest);
      expect(
        requests.filter((url) => !url.startsWith('blob:')),
        'no network for the download',
      ).to.deep.equal([]);
      expect(download.suggestedFilename()).to.equal('cofrap-recovery-codes-dana.txt');
      const text = readFileSync(await download.path(), 'utf8');
      await download.delete();
      const lines = text.split('\n');
      expect(lines[0]).to.equal('COFRAP recovery codes');
      expect(lines).to.include('Username: dana');
      const date = /^Date: (\d{4}-\d{2}-\d{2})$/m.exec(text)?.[1] as string;
      expect(Math.abs(new Date(`${date}T12:00:00`).getTime() - Date.now()), 'today, in the local calendar').to.be.below(
        36 * 3_600_000,
      );
      expect(lines.filter((line) => CODE_SHAPE.test(line))).to.deep.equal(answered);
      await message(page)
        .getByText('Your recovery codes are downloaded as cofrap-recovery-codes-dana.txt.', { exact: false })
        .waitFor();

      // Copy: the codes, one a line.
      await step.getByRole('button', { name: 'Copy' }).click();
      await message(page).getByText('The 10 recovery codes are copied.', { exact: false }).waitFor();
      expect(await page.evaluate<string>('navigator.clipboard.readText()')).to.equal(answered.join('\n'));
      await expectNothingKept(page, [...answered, password]);

      await step.getByLabel('I have saved them').check();
      await snap(page, 'codes-phone-3-ticked');
      await step.getByRole('button', { name: 'Continue to the first sign-in' }).click();
      const activate = section(page, NEW_CREDENTIALS.activate);
      await activate.waitFor();
      expect(await page.locator('#recovery-codes li').count(), 'the codes leave the page with their step').to.equal(0);
      const html = await page.content();
      for (const code of answered) expect(html).to.not.contain(code);

      // Back to the QR code (a scan gone wrong) and on again, without the codes step.
      await activate.getByRole('button', { name: 'Show the QR code and key again' }).click();
      await section(page, NEW_CREDENTIALS.app).getByRole('button', { name: 'Back to the first sign-in' }).click();
      const account: Account = { username: 'dana', password, secret, lastStep: 0 };
      await activateIn(page, NEW_CREDENTIALS, account);
      await expectSignedIn(page, 'dana');
      await snap(page, 'codes-phone-4-signed-in');
      expect(pageProblems(page)).to.deep.equal([]);

      // The codes shown are the account's: one signs in, once.
      await expectFirstOfTenSignsIn(account, answered[4] as string);
    } finally {
      await context.close();
    }
  });

  it('lost phone: "Use a recovery code" signs in, the new authenticator and new codes are set up, and after its first code the old authenticator and codes are refused (HTTP)', async () => {
    const erik = await activeOverHttp(live, 'erik');
    const { context, page } = await openPortal(browser, live.url);
    try {
      const form = section(page, 'Sign in');
      await form.getByLabel('Username').fill('erik');
      await form.getByLabel('Password', { exact: true }).fill(erik.password);
      await form.getByRole('button', { name: 'Lost your phone? Use a recovery code' }).click();
      const field = form.getByLabel('Recovery code');
      await field.waitFor();
      expect(await focusedId(page)).to.equal('signin-recovery');
      expect(await form.getByLabel('6-digit code').isVisible()).to.equal(false);
      expect(
        await page.evaluate<string[]>('[document.activeElement.type, document.activeElement.autocomplete]'),
      ).to.deep.equal(['text', 'off']);
      await snap(page, 'lost-phone-0-recovery-field');

      // A wrong recovery code: the one 401 of a wrong code.
      await field.fill('zzzz-zzzz-zzzz-zzzz');
      await form.getByRole('button', { name: 'Sign in', exact: true }).click();
      await message(page)
        .getByText(/^The username, password or recovery code is not correct\./)
        .waitFor();
      await snap(page, 'lost-phone-1-wrong-code');

      // The right one, typed in capitals with spaces for hyphens.
      await form.getByLabel('Password', { exact: true }).fill(erik.password);
      await field.fill((erik.codes[0] as string).toUpperCase().replace(/-/g, ' '));
      const sent = page.waitForRequest((r) => r.url().endsWith('/authenticate'));
      const codes = await codesAnswered(page);
      await form.getByRole('button', { name: 'Sign in', exact: true }).click();
      const body = (await sent).postDataJSON() as Record<string, string>;
      expect(body).to.have.keys('username', 'password', 'recovery_code');
      expect(body.recovery_code).to.equal((erik.codes[0] as string).replace(/-/g, ''));

      // Straight on to the new authenticator, with new codes.
      await message(page)
        .getByText(/You signed in with a recovery code\. Now set up the authenticator app on your new phone/)
        .waitFor();
      const secret = await readAuthenticator(page, NEW_AUTHENTICATOR, 'lost-phone-2');
      expect(secret).to.not.equal(erik.secret);
      const answered = await codes();
      expect(answered).to.not.include.members([erik.codes[1] as string]);
      await section(page, NEW_AUTHENTICATOR.codes)
        .getByText('These new codes replace your old ones as soon as your new authenticator is active.')
        .waitFor();
      await saveCodes(page, NEW_AUTHENTICATOR, answered, 'lost-phone-3');
      const activate = section(page, NEW_AUTHENTICATOR.activate);
      await activate
        .getByText('After this sign-in your old authenticator and your old recovery codes stop working.', {
          exact: false,
        })
        .waitFor();
      expect(await activate.getByLabel('Your password').inputValue(), 'the password is asked again, not kept').to.equal(
        '',
      );
      await snap(page, 'lost-phone-4-activate');

      // Typed from the old phone (found again): signed in, but nothing promoted — the page says so (a stand-in answers).
      await answerSignedIn(page, 'erik', 9);
      await activate.getByLabel('Your password').fill(erik.password);
      await activate.getByLabel('First 6-digit code from your new app').fill('123456');
      await activate.getByRole('button', { name: 'Activate and sign in' }).click();
      await message(page)
        .getByText(/That code is from your old authenticator: .* Type the code your new app shows\./)
        .waitFor();
      await page.unroute('**/authenticate');

      const renewed: Account = { ...erik, secret };
      await activateIn(page, NEW_AUTHENTICATOR, renewed);
      await expectSignedIn(page, 'erik');
      await section(page, 'You are signed in')
        .getByText('Your new authenticator is active. The old one and your old recovery codes no longer work.')
        .waitFor();
      await snap(page, 'lost-phone-5-signed-in');
      await expectNothingKept(page, [erik.password, ...answered, ...erik.codes]);
      expect(pageProblems(page)).to.deep.equal([]);

      // Over HTTP: the old authenticator is refused at a step the new one is accepted at; old codes refused, new ones work.
      const { old, fresh } = await signInOldThenNew(live.url, 'erik', erik, renewed);
      expect(old.status, old.text).to.equal(401);
      expect(fresh.status, fresh.text).to.equal(200);
      expect((await recoverOverHttp(live.url, erik, erik.codes[1] as string)).status).to.equal(401);
      await expectFirstOfTenSignsIn(erik, answered[0] as string);
    } finally {
      await context.close();
    }
  });

  it('inside the renewal window: the deadline in words and date, and "Renew now" → new password, authenticator and codes → signed in with the new credentials (phone)', async () => {
    const rita = await activeOverHttp(live, 'rita');
    await live.backend.sql(
      "UPDATE users SET created_at = now() - interval '6 months' + interval '10 days' WHERE username = 'rita'",
    );
    const { context, page } = await openPortal(browser, live.url, PHONE);
    try {
      await signInForm(page, rita, await nextCode(rita));
      await expectSignedIn(page, 'rita');
      const offer = page.locator('#renewal-offer');
      await offer.waitFor();
      const [expires] = await live.backend.sql<{ expires_at: Date }>(
        "SELECT created_at + interval '6 months' AS expires_at FROM users WHERE username = 'rita'",
      );
      const year = String((expires as { expires_at: Date }).expires_at.getFullYear());
      await offer.getByRole('heading', { name: new RegExp(`^Renew before .*${year}$`) }).waitFor();
      const text = (await offer.locator('#renewal-text').textContent()) ?? '';
      expect(text).to.match(new RegExp(`^Your credentials expire in (9|10|11) days, on .*${year}`));
      expect(text).to.contain('Your current password and code keep working until you first sign in with the new ones.');
      expect(await page.locator('#codes-warning').isVisible()).to.equal(false);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).to.be.at.most(PHONE.width);
      await snap(page, 'renew-early-0-offer');

      const sent = page.waitForRequest((r) => r.url().endsWith('/generate-password'));
      await offer.getByRole('button', { name: 'Renew now' }).click();
      const body = (await sent).postDataJSON() as Record<string, string>;
      expect(body).to.have.keys('username', 'renewal_token');
      expect(body.username).to.equal('rita');
      const renewed = await finishEnrollment(page, 'rita', 'renew-early', rita.lastStep);
      expect(renewed.password).to.not.equal(rita.password);
      expect(renewed.secret).to.not.equal(rita.secret);
      const done = section(page, 'You are signed in');
      await done.getByText('Your credentials are renewed.', { exact: false }).waitFor();
      expect(await offer.isVisible(), 'no renewal offer for new credentials').to.equal(false);
      const sixMonthsOn = String(new Date(Date.now() + 182 * 86_400_000).getFullYear());
      expect((await done.locator('#done-text').textContent()) ?? '').to.match(
        new RegExp(`valid until .*${sixMonthsOn}`),
      );
      await expectNothingKept(page, [rita.password, renewed.password, ...renewed.codes]);
      expect(pageProblems(page)).to.deep.equal([]);

      // Over HTTP: the old password and code are refused now; the new expiry is six months away.
      const { old, fresh } = await signInOldThenNew(live.url, 'rita', rita, renewed);
      expect(old.status, old.text).to.equal(401);
      expect(fresh.status, fresh.text).to.equal(200);
      expect(fresh.body).to.not.have.property('renewal_token');
      const months = (new Date(fresh.body.expires_at as string).getTime() - Date.now()) / (30.4 * 86_400_000);
      expect(months).to.be.within(5.8, 6.2);
    } finally {
      await context.close();
    }
  });

  it('a helpdesk reset link (?reset=…): new credentials staged like a renewal, the old ones working until then; the link works once (phone)', async () => {
    const sam = await activeOverHttp(live, 'sam.reset');
    const reset = await sendEmployeeEvent(
      `${live.url}/employee-events`,
      'fr.cofrap.it.credentials.reset-requested',
      { username: 'sam.reset', requested_by: 'helpdesk.agent' },
      { source: '/it/helpdesk' },
    );
    const token = replyEvent(reset).data?.reset_token as string;
    const link = `/?username=sam.reset&reset=${encodeURIComponent(token)}`;
    const { context, page } = await openPortal(browser, live.url, PHONE, link);
    try {
      const view = section(page, 'New credentials for sam.reset');
      await view.waitFor();
      expect(new URL(page.url()).search, 'the token leaves the address bar').to.equal('');
      await snap(page, 'reset-0-link');
      const sent = page.waitForRequest((r) => r.url().endsWith('/generate-password'));
      await view.getByRole('button', { name: 'Set up new credentials' }).click();
      expect((await sent).postDataJSON()).to.deep.equal({ username: 'sam.reset', reset_token: token });
      const renewed = await finishEnrollment(page, 'sam.reset', 'reset', sam.lastStep);
      expect(renewed.password).to.not.equal(sam.password);
      await section(page, 'You are signed in').waitFor();
      await expectNothingKept(page, [sam.password, renewed.password, token, ...renewed.codes]);
      expect(pageProblems(page)).to.deep.equal([]);
      // promoted: the old credentials are refused; the link is spent
      const step = await stepAfter(renewed.lastStep);
      expect(
        (
          await postJson(`${live.url}/authenticate`, {
            username: 'sam.reset',
            password: sam.password,
            totp: codeAt(sam.secret, step),
          })
        ).status,
      ).to.equal(401);
      const again = await openPortal(browser, live.url, PHONE, link);
      await again.page.getByRole('button', { name: 'Set up new credentials' }).click();
      await message(again.page)
        .getByText(/This reset link is no longer valid/)
        .waitFor();
      await again.context.close();
    } finally {
      await context.close();
    }
  });

  it('warns when 3 or fewer recovery codes are left and says how to get new ones; signing in with one gets 10 new codes (phone)', async () => {
    const lena = await activeOverHttp(live, 'lena');
    for (const code of lena.codes.slice(0, 7))
      expect((await recoverOverHttp(live.url, lena, code)).status).to.equal(200);
    const { context, page } = await openPortal(browser, live.url, PHONE);
    try {
      await signInForm(page, lena, await nextCode(lena));
      await expectSignedIn(page, 'lena');
      const warning = page.locator('#codes-warning');
      await warning
        .getByText(
          /^Only 3 recovery codes left — get new ones before you run out: sign in with one of them \(you then set up your authenticator app again and get 10 new codes\), or renew your credentials, which gives you 10 new codes too/,
        )
        .waitFor();
      expect(await page.locator('#renewal-offer').isVisible()).to.equal(false);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).to.be.at.most(PHONE.width);
      await snap(page, 'few-codes-0-warning');

      // The way to new codes: the sign-in form, ready for a recovery code.
      await warning.getByRole('button', { name: 'Sign in with a recovery code' }).click();
      const form = section(page, 'Sign in');
      await form.getByLabel('Recovery code').waitFor();
      expect(await form.getByLabel('Username').inputValue()).to.equal('lena');
      expect(await focusedId(page)).to.equal('signin-password');
      await message(page)
        .getByText(/you then set up your authenticator app again and get 10 new codes/)
        .waitFor();
      await form.getByLabel('Password', { exact: true }).fill(lena.password);
      await form.getByLabel('Recovery code').fill(lena.codes[7] as string);
      const codes = await codesAnswered(page);
      await form.getByRole('button', { name: 'Sign in', exact: true }).click();
      const secret = await readAuthenticator(page, NEW_AUTHENTICATOR, 'few-codes-1');
      await saveCodes(page, NEW_AUTHENTICATOR, await codes(), 'few-codes-2');
      await activateIn(page, NEW_AUTHENTICATOR, { ...lena, secret });
      await expectSignedIn(page, 'lena');
      expect(await warning.isVisible(), 'ten new codes: no warning').to.equal(false);

      // One and none left (a stand-in answers): the words follow, and with none the way is renewal or the service desk.
      for (const [left, text, button] of [
        [1, /^Only 1 recovery code left — /, true],
        [
          0,
          /^No recovery codes left — if you lose your phone, only the IT service desk can let you back in\. To get new codes, renew your credentials/,
          false,
        ],
      ] as const) {
        await section(page, 'You are signed in').getByRole('button', { name: 'Sign out' }).click();
        await answerSignedIn(page, 'lena', left);
        await signInForm(page, lena, '123456');
        await warning.getByText(text).waitFor();
        expect(await warning.getByRole('button', { name: 'Sign in with a recovery code' }).isVisible()).to.equal(
          button,
        );
        await page.unroute('**/authenticate');
      }
      await snap(page, 'few-codes-3-none-left');
      expect(pageProblems(page)).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });
});
