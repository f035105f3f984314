// The portal, as a user sees it: headless Chromium on the development server's page over
// the embedded database (npm start's), the QR codes read from the page's images, TOTP codes
// computed independently, typing into labelled fields. Plus the page's HTTP surface
// (security headers, 405, config.json). The portal's other files: portal-errors (every
// error code in words, the username checked in the page) and portal-recovery (recovery
// codes, lost phone, renewal, on PostgreSQL); each runs in a mocha worker of its own.
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { useServer } from './helpers/backends.js';
import { ARTIFACTS, launchChromium, snap } from './helpers/browser.js';
import { request } from './helpers/http.js';
import { sendEmployeeEvent, replyEvent } from './helpers/events.js';
import { codeAt, currentStep } from './helpers/totp.js';
import { contentSecurityPolicy, intervalInWords } from '../functions/portal/index.js';
import { ConfigError, loadPortalConfig } from '../lib/config.js';
import { PROJECT_ROOT } from './helpers/process.js';
import {
  DESKTOP,
  PHONE,
  OPENAPI,
  Account,
  nextCode,
  section,
  message,
  openPortal,
  focusedId,
  pageProblems,
  NEW_CREDENTIALS,
  finishEnrollment,
  expectSignedIn,
  createInBrowser,
  signInForm,
} from './helpers/portal.js';

/** Screenshots side by side, 40 px apart on the page's ground colour: one PNG for docs/. */
function sideBySide(images: PNG[]): Buffer {
  const gap = 40;
  const width = images.reduce((sum, image) => sum + image.width, 0) + gap * (images.length - 1);
  const height = Math.max(...images.map((image) => image.height));
  const sheet = new PNG({ width, height });
  for (let offset = 0; offset < sheet.data.length; offset += 4) sheet.data.set([0xd5, 0xdb, 0xe3, 0xff], offset);
  let x = 0;
  for (const image of images) {
    PNG.bitblt(image, sheet, 0, 0, image.width, image.height, x, 0);
    x += image.width + gap;
  }
  return PNG.sync.write(sheet);
}
describe('portal', function () {
  this.timeout(120_000);
  const server = useServer('pglite');

  describe('the page over HTTP', () => {
    it('serves the page, script, style sheet and config with security headers and no cache', async () => {
      for (const [path, type] of [
        ['/', 'text/html'],
        ['/app.js', 'text/javascript'],
        ['/app.css', 'text/css'],
        ['/jsqr.js', 'text/javascript'],
        ['/config.json', 'application/json'],
      ] as const) {
        const response = await fetch(server.url + path);
        expect(response.status, path).to.equal(200);
        expect(response.headers.get('content-type'), path).to.match(new RegExp(`^${type}`));
        const csp = response.headers.get('content-security-policy') ?? '';
        expect(csp, path)
          .to.contain("script-src 'self'")
          .and.contain("frame-ancestors 'none'")
          .and.contain("img-src 'self' data:")
          .and.contain("connect-src 'self'");
        expect(csp, path).to.not.contain('unsafe-inline');
        expect(response.headers.get('x-content-type-options'), path).to.equal('nosniff');
        expect(response.headers.get('referrer-policy'), path).to.equal('no-referrer');
        expect(response.headers.get('x-frame-options'), path).to.equal('DENY');
        expect(response.headers.get('cache-control'), path).to.equal('no-store');
      }
      const html = await (await fetch(server.url + '/')).text();
      expect(html).to.not.match(/<script(?![^>]*\bsrc=)/, 'no inline script');
      expect(html).to.not.match(/\bstyle=|https?:\/\//, 'no inline style, no third-party origin');
    });

    it('answers config.json with the same-origin function paths by default, the username rule of openapi.yaml and the enrollment window in words', async () => {
      const answer = await request(server.url + '/config.json');
      const pattern = OPENAPI.components.schemas.Username?.pattern as string;
      expect(answer.body).to.deep.equal({
        generatePassword: '/generate-password',
        generate2fa: '/generate-2fa',
        authenticate: '/authenticate',
        username: { pattern, characters: pattern.slice(1, pattern.lastIndexOf(']') + 1), maxLength: 64 },
        enrollmentWindow: '15 minutes',
        selfRegistration: true,
      });
      // The decoder the page reads the password QR code with: the kept library's own build.
      const served = await (await fetch(server.url + '/jsqr.js')).text();
      expect(served).to.equal(readFileSync(`${PROJECT_ROOT}/node_modules/jsqr/dist/jsQR.js`, 'utf8'));
    });

    it('says a configured interval in words', () => {
      expect(intervalInWords('15 minutes')).to.equal('15 minutes');
      expect(intervalInWords('20 min')).to.equal('20 minutes');
      expect(intervalInWords('1 hour 30 mins')).to.equal('1 hour 30 minutes');
      expect(intervalInWords('PT1H30M')).to.equal('1 hour 30 minutes');
      expect(intervalInWords('P1D')).to.equal('1 day');
    });

    it('refuses other methods with 405 and Allow: GET, and unknown paths with 404', async () => {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const answer = await request(server.url + '/', {
          method,
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        expect(answer.status).to.equal(405);
        expect(answer.headers.get('allow')).to.equal('GET');
        expect(answer.body.code).to.equal('method_not_allowed');
      }
      expect((await request(server.url + '/app.js', { method: 'POST' })).status).to.equal(405);
      const missing = await fetch(server.url + '/nothing-here.js');
      expect(missing.status).to.equal(404);
      expect(await missing.json()).to.deep.include({ code: 'not_found' });
      expect((await fetch(server.url + '/healthz')).status).to.equal(200);
      expect((await fetch(server.url + '/openapi.json')).status).to.equal(200);
    });

    it('names the configured function origins in connect-src', () => {
      const { urls } = loadPortalConfig({
        PORTAL_AUTHENTICATE_URL: 'https://authenticate.cofrap.example.com/',
        PORTAL_GENERATE_2FA_URL: '',
      });
      expect(urls).to.deep.equal({
        generatePassword: '/generate-password',
        generate2fa: '/generate-2fa',
        authenticate: 'https://authenticate.cofrap.example.com/',
      });
      expect(contentSecurityPolicy(urls)).to.contain("connect-src 'self' https://authenticate.cofrap.example.com;");
      expect(() => loadPortalConfig({ PORTAL_GENERATE_PASSWORD_URL: 'javascript:alert(1)' })).to.throw(
        ConfigError,
        /PORTAL_GENERATE_PASSWORD_URL/,
      );
      expect(() => loadPortalConfig({ PORTAL_AUTHENTICATE_URL: 'http://[not-a-host' })).to.throw(
        ConfigError,
        /PORTAL_AUTHENTICATE_URL must be a URL/,
      );
    });

    it('reads its settings with lib/config: the same ENROLLMENT_TTL and SELF_REGISTRATION rules as the functions', () => {
      expect(loadPortalConfig({})).to.deep.include({ enrollmentTtl: '15 minutes', selfRegistration: true });
      expect(loadPortalConfig({ ENROLLMENT_TTL: 'PT20M', SELF_REGISTRATION: 'off' })).to.deep.include({
        enrollmentTtl: 'PT20M',
        selfRegistration: false,
      });
      expect(() => loadPortalConfig({ ENROLLMENT_TTL: 'a while' })).to.throw(ConfigError, /ENROLLMENT_TTL/);
      expect(() => loadPortalConfig({ SELF_REGISTRATION: 'maybe' })).to.throw(ConfigError, /SELF_REGISTRATION/);
    });
  });

  describe('in Chromium', () => {
    let browser: Browser;
    let alice: Account;
    before(async function () {
      browser = await launchChromium(this);
    });
    after(async () => browser?.close());

    it('creates an account: password QR code, 2FA QR code and key, first code → active and signed in (desktop)', async () => {
      alice = await createInBrowser(browser, server.url, 'alice', 'create');
    });

    it('creates an account on a phone: the password saved by the password manager or copied, the tap-to-add link and the key copied, the activation pre-filled (phone, 390×844)', async () => {
      await createInBrowser(browser, server.url, 'pia.phone', 'create-phone', PHONE, true);
    });

    it('makes the screenshots of docs/: portal.png (sign-in, desktop) and portal-phone.png (the password and authenticator steps on a phone); copied there with UPDATE_SCREENSHOTS=1', async () => {
      const shots: Record<string, Buffer> = {};
      {
        const { context, page } = await openPortal(browser, server.url, { width: 1100, height: 760 });
        shots.desktop = await page.screenshot();
        await context.close();
      }
      const { context, page } = await openPortal(browser, server.url, PHONE);
      try {
        await page.getByRole('button', { name: 'Create an account' }).click();
        await section(page, 'Create an account').getByLabel('Username').fill('jose.fino');
        await page.getByRole('button', { name: 'Create my account' }).click();
        const step1 = section(page, NEW_CREDENTIALS.password);
        await step1.getByRole('button', { name: 'Save in my password manager' }).waitFor();
        await page.evaluate('window.scrollTo(0, 0)');
        const password = await page.screenshot();
        await step1.getByRole('button', { name: /next: two-factor setup/ }).click();
        const step2 = section(page, NEW_CREDENTIALS.app);
        await step2.getByRole('link', { name: 'Add to my authenticator app' }).waitFor();
        await page.waitForFunction('document.querySelector("#totp-qr").complete');
        await page.evaluate('window.scrollTo(0, 0)');
        shots.phone = sideBySide([PNG.sync.read(password), PNG.sync.read(await page.screenshot())]);
      } finally {
        await context.close();
      }
      for (const [name, png] of [
        ['portal.png', shots.desktop],
        ['portal-phone.png', shots.phone],
      ] as const) {
        const image = PNG.sync.read(png);
        expect(image.width, name).to.equal(name === 'portal.png' ? 1100 : 2 * 2 * PHONE.width + 40);
        writeFileSync(path.join(ARTIFACTS, `docs-${name}`), png);
        if (process.env.UPDATE_SCREENSHOTS === '1') writeFileSync(path.join(PROJECT_ROOT, 'docs', name), png);
      }
    });

    it('signs in with username, password and a code typed "123 456", shows the expiry date, and signs out from the header (phone, 390×844)', async () => {
      const { context, page } = await openPortal(browser, server.url, PHONE);
      try {
        await snap(page, 'signin-phone-0-home');
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).to.be.at.most(PHONE.width);
        await signInForm(page, alice, codeAt(alice.secret, currentStep() + 5));
        await message(page)
          .getByText(/username, password or code is not correct/)
          .waitFor();
        await snap(page, 'signin-phone-1-wrong-code');
        const code = await nextCode(alice);
        const sent = page.waitForRequest((r) => r.url().endsWith('/authenticate'));
        await signInForm(page, alice, `${code.slice(0, 3)} ${code.slice(3)}`);
        expect((await sent).postDataJSON()).to.deep.include({ totp: code });
        await expectSignedIn(page, 'alice');
        await snap(page, 'signin-phone-2-signed-in');
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).to.be.at.most(PHONE.width);
        // The header's way out (and to start over).
        const header = page.getByRole('banner');
        await header.getByRole('button', { name: 'Sign out' }).click();
        await section(page, 'Sign in').waitFor();
        await message(page).getByText('You are signed out.').waitFor();
        expect(await header.getByRole('button', { name: 'Create an account' }).isVisible()).to.equal(true);
        expect(await header.getByText('Signed in as').isVisible()).to.equal(false);
        expect(await page.getByLabel('Password', { exact: true }).inputValue()).to.equal('');
        expect(pageProblems(page)).to.deep.equal([]);
      } finally {
        await context.close();
      }
    });

    it('signs in with the keyboard only (Tab and Enter), the code typed "123-456" (desktop)', async () => {
      const { context, page } = await openPortal(browser, server.url);
      try {
        // The page puts the focus in the username field; everything else is Tab and Enter.
        expect(await focusedId(page)).to.equal('signin-username');
        await page.keyboard.type(alice.username);
        await page.keyboard.press('Tab');
        await page.keyboard.type(alice.password);
        await page.keyboard.press('Tab');
        expect(await focusedId(page)).to.equal('signin-code');
        expect(
          await page.evaluate<string[]>(
            '[document.activeElement.autocomplete, document.activeElement.inputMode, String(document.activeElement.maxLength)]',
          ),
        ).to.deep.equal(['one-time-code', 'numeric', '-1']);
        const code = await nextCode(alice);
        await page.keyboard.type(`${code.slice(0, 3)}-${code.slice(3)}`);
        await page.keyboard.press('Enter');
        await expectSignedIn(page, 'alice');
        await snap(page, 'keyboard-signed-in');
        // Sign out and come back with the keyboard too.
        expect(await focusedId(page)).to.equal('done-title');
        await page.keyboard.press('Tab');
        expect(await focusedId(page)).to.equal('sign-out');
        await page.keyboard.press('Enter');
        await section(page, 'Sign in').waitFor();
        await message(page).getByText('You are signed out.').waitFor();
        await snap(page, 'keyboard-signed-out');
      } finally {
        await context.close();
      }
    });

    it('accepts an invitation link: the token goes with the creation, and works until the account is activated', async () => {
      const invited = await sendEmployeeEvent(`${server.url}/employee-events`, 'fr.cofrap.hr.employee.created', {
        username: 'nora.petit',
        email: 'nora.petit@cofrap.fr',
      });
      expect(invited.status, invited.text).to.equal(200);
      const token = replyEvent(invited).data?.invitation_token as string;
      const link = `/?username=nora.petit&invitation=${encodeURIComponent(token)}`;

      // Without the link, the username is taken.
      {
        const { context, page } = await openPortal(browser, server.url, DESKTOP, '/?create');
        await section(page, 'Create an account').getByLabel('Username').fill('nora.petit');
        await page.getByRole('button', { name: 'Create my account' }).click();
        await message(page)
          .getByText(/username is taken .* Open your invitation link again: it works until the account is activated\./)
          .waitFor();
        await context.close();
      }

      const { context, page } = await openPortal(browser, server.url, DESKTOP, link);
      const create = section(page, 'Create an account');
      await create.getByText('You are accepting the invitation for nora.petit.').waitFor();
      expect(await create.getByLabel('Username').inputValue()).to.equal('nora.petit');
      expect(new URL(page.url()).search, 'the token leaves the address bar').to.equal('');
      await snap(page, 'invitation-0-link');
      const sent = page.waitForRequest((r) => r.url().endsWith('/generate-password'));
      await create.getByRole('button', { name: 'Create my account' }).click();
      expect((await sent).postDataJSON()).to.deep.equal({ username: 'nora.petit', invitation_token: token });
      await finishEnrollment(page, 'nora.petit', 'invitation');
      await context.close();

      // The same link again: used up by the activation.
      const again = await openPortal(browser, server.url, DESKTOP, link);
      await again.page.getByRole('button', { name: 'Create my account' }).click();
      await message(again.page)
        .getByText(/already used to set up the account \(sign in with your password and code\)/)
        .waitFor();
      await snap(again.page, 'invitation-1-used');
      await again.context.close();

      // A wrong or lapsed token for an invited employee.
      const olga = await sendEmployeeEvent(`${server.url}/employee-events`, 'fr.cofrap.hr.employee.created', {
        username: 'olga',
      });
      expect(olga.status).to.equal(200);
      const wrong = await openPortal(browser, server.url, DESKTOP, '/?username=olga&invitation=not-the-token');
      await wrong.page.getByRole('button', { name: 'Create my account' }).click();
      await message(wrong.page)
        .getByText(/This invitation link is no longer valid: .* or it expired \(ask HR for a new invitation\)\./)
        .waitFor();
      await wrong.context.close();
    });

    it('explains the creation errors: a username taken, a lapsed or finished setup session', async () => {
      const { context, page } = await openPortal(browser, server.url);
      try {
        await page.getByRole('button', { name: 'Create an account' }).click();
        const create = section(page, 'Create an account');
        await create.getByLabel('Username').fill(alice.username);
        await create.getByRole('button', { name: 'Create my account' }).click();
        await message(page)
          .getByText(
            /^The username is taken \(or one that looks the same\)\. If the account is yours and active, sign in instead\./,
          )
          .waitFor();

        // The enrollment step fails in ways a live server gives only after minutes: a stand-in answers.
        for (const [username, code, text] of [
          [
            'erin',
            'invalid_token',
            'This setup session is no longer valid: it expired, or the account is already set up. Sign in with your password and code, or start again.',
          ],
        ] as const) {
          await page.goto(server.url + '/');
          await page.locator('html[data-ready="true"]').waitFor();
          await page.getByRole('button', { name: 'Create an account' }).click();
          await section(page, 'Create an account').getByLabel('Username').fill(username);
          await section(page, 'Create an account').getByRole('button', { name: 'Create my account' }).click();
          const step1 = section(page, NEW_CREDENTIALS.password);
          await step1.getByText('Save it now, it will not be shown again.').waitFor();
          await page.route('**/generate-2fa', (route) =>
            route.fulfill({
              status: code === 'invalid_token' ? 401 : 409,
              contentType: 'application/json',
              body: JSON.stringify({ error: 'x', code }),
            }),
          );
          await step1.getByRole('button', { name: /next: two-factor setup/ }).click();
          await message(page).getByText(text).waitFor();
          await page.unroute('**/generate-2fa');
        }
        await snap(page, 'errors-2-enrollment');
      } finally {
        await context.close();
      }
    });

    it('explains every error: throttling with when to retry, disabled account, and each code of the contract', async () => {
      const bob = await createInBrowser(browser, server.url, 'bob', 'errors-bob');
      const { context, page } = await openPortal(browser, server.url);
      try {
        for (let attempt = 0; attempt < 5; attempt += 1) {
          await signInForm(page, { username: 'mallory', password: 'not-the-password' }, '000000');
          await message(page)
            .getByText(/not correct/)
            .waitFor();
        }
        await signInForm(page, { username: 'mallory', password: 'not-the-password' }, '000000');
        await message(page)
          .getByText(
            /^Too many failed sign-ins for this username or from your network, so sign-in is paused\. Try again in \d+ seconds \(after /,
          )
          .waitFor();
        await snap(page, 'errors-0-throttled');

        // An offboarded employee: both factors right, the account is disabled.
        const departed = await sendEmployeeEvent(`${server.url}/employee-events`, 'fr.cofrap.hr.employee.departed', {
          username: 'bob',
        });
        expect(departed.status).to.equal(200);
        await signInForm(page, bob, await nextCode(bob));
        await message(page)
          .getByText(/This account is disabled/)
          .waitFor();

        await page.route('**/authenticate', (route) => route.abort('connectionrefused'));
        await signInForm(page, bob, '123456');
        await message(page)
          .getByText(/cannot be reached/)
          .waitFor();
        await page.unroute('**/authenticate');
      } finally {
        await context.close();
      }
    });
  });
});
