// The portal, as a user sees it: headless Chromium on the development server's page, the
// QR codes read from the page's images, TOTP codes computed independently, typing into
// labelled fields. Plus the page's HTTP surface (security headers, 405, config.json).
import { expect } from 'chai';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { parse } from 'yaml';
import { useServer } from './helpers/backends.js';
import type { LiveServer } from './helpers/backends.js';
import { ARTIFACTS, launchChromium, readQrFromScreen, readQrFromSource, snap } from './helpers/browser.js';
import { postJson, rememberSecretsOf, request } from './helpers/http.js';
import { createAndEnroll } from './helpers/journey.js';
import type { Answer } from './helpers/http.js';
import { sendEmployeeEvent, replyEvent } from './helpers/events.js';
import { pause } from './helpers/time.js';
import { codeAt, currentStep } from './helpers/totp.js';
import { contentSecurityPolicy, intervalInWords } from '../functions/portal/index.js';
import { ConfigError, loadPortalConfig } from '../lib/config.js';
import { PROJECT_ROOT } from './helpers/process.js';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const VIEWPORTS = [
  ['desktop', DESKTOP],
  ['phone', PHONE],
] as const;

/** openapi.yaml itself (not the build's copy): the source of the username rule and of the error codes. */
const OPENAPI = parse(readFileSync(`${PROJECT_ROOT}/openapi.yaml`, 'utf8')) as {
  components: { schemas: Record<string, { pattern?: string; enum?: string[] }> };
};
const ERROR_CODES = OPENAPI.components.schemas.ErrorCode?.enum as string[];

interface Account {
  username: string;
  password: string;
  secret: string;
  lastStep: number;
}

/**
 * The next code the server accepts for the account: a step later than its last one, within
 * ±1 of the server's step, earliest first, with no wait for a margin. The previous step
 * is chosen only while the current one has at least 6 s left (the browser types and sends
 * the code well within that); otherwise the current step, which stays in the window for 30 s
 * at least. Only an account that already used the next step (a third code within one
 * step; on PostgreSQL the suites move last_totp_step back instead, see activeOverHttp)
 * waits for the clock's next step.
 */
async function nextCode(account: Account): Promise<string> {
  while (account.lastStep > currentStep()) await pause(250);
  const now = Date.now();
  const earliest = 30_000 - (now % 30_000) >= 6_000 ? currentStep(now) - 1 : currentStep(now);
  const chosen = Math.max(earliest, account.lastStep + 1);
  account.lastStep = chosen;
  return codeAt(account.secret, chosen);
}

/**
 * A step after `lastStep` that the service accepts now: the current one, or the next when
 * `lastStep` is already the current (nextCode may have taken the next step for a second code
 * in one step); waits for the clock only when `lastStep` is ahead of it.
 */
async function stepAfter(lastStep: number): Promise<number> {
  while (lastStep > currentStep()) await pause(250);
  return Math.max(lastStep + 1, currentStep());
}

const section = (page: Page, name: string): Locator => page.getByRole('region', { name });

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
const message = (page: Page): Locator => page.getByRole('alert');

async function openPortal(
  browser: Browser,
  base: string,
  viewport = DESKTOP,
  path = '/',
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport,
    ...(viewport === PHONE ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (line) => {
    if (line.type() === 'error' && !/Failed to load resource/.test(line.text())) problems.push(line.text());
  });
  (page as Page & { problems?: string[] }).problems = problems;
  // What the page receives is secret too: the run-wide log check looks for it.
  page.on('response', (response) => {
    if (!/\/(generate-password|generate-2fa|authenticate|employee-events)$/.test(new URL(response.url()).pathname))
      return;
    response.json().then(
      (body: Answer['body']) => rememberSecretsOf(body),
      () => undefined,
    );
  });
  await page.goto(base + path);
  await page.locator('html[data-ready="true"]').waitFor();
  return { context, page };
}

function focusedId(page: Page): Promise<string> {
  return page.evaluate<string>('document.activeElement?.id ?? ""');
}

function pageProblems(page: Page): string[] {
  return (page as Page & { problems?: string[] }).problems ?? [];
}

/** The headings and labels of the enrollment steps: a new account or a renewal, or a new authenticator after a lost phone. */
interface Steps {
  password?: string;
  app: string;
  codes: string;
  activate: string;
  passwordLabel: string;
  codeLabel: string;
}
const NEW_CREDENTIALS: Required<Steps> = {
  password: 'Step 1 of 4 — your password',
  app: 'Step 2 of 4 — your authenticator app',
  codes: 'Step 3 of 4 — your recovery codes',
  activate: 'Step 4 of 4 — activate',
  passwordLabel: 'Password (from the first QR code)',
  codeLabel: 'First 6-digit code from your app',
};
const NEW_AUTHENTICATOR: Steps = {
  app: 'Step 1 of 3 — your new authenticator app',
  codes: 'Step 2 of 3 — your new recovery codes',
  activate: 'Step 3 of 3 — activate your new authenticator',
  passwordLabel: 'Your password',
  codeLabel: 'First 6-digit code from your new app',
};

const CODE_SHAPE = /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/;

/** The recovery codes generate-2fa answers, as the page received them (call before the click that sends it). */
async function codesAnswered(page: Page): Promise<() => Promise<string[]>> {
  const answered = page.waitForResponse((r) => r.url().endsWith('/generate-2fa') && r.status() === 200);
  return async () => ((await (await answered).json()) as { recovery_codes: string[] }).recovery_codes;
}

/** The authenticator step: the otpauth secret read from the QR code on screen, checked against the manual key. */
async function readAuthenticator(page: Page, steps: Steps, shots: string, clipboard = false): Promise<string> {
  const step = section(page, steps.app);
  await step.waitFor();
  const totpImage = step.getByRole('img', { name: 'QR code for your authenticator app' });
  await totpImage.waitFor();
  const scanned = await readQrFromScreen(totpImage);
  const uri = new URL(scanned);
  expect(uri.protocol).to.equal('otpauth:');
  const secret = uri.searchParams.get('secret') as string;
  expect(secret).to.match(/^[A-Z2-7]{32}$/);
  expect((await page.locator('#manual-key').textContent())?.replace(/\s+/g, '')).to.equal(secret);
  // On the phone itself: a link that opens the authenticator app with the very entry of the QR code.
  const link = step.getByRole('link', { name: 'Add to my authenticator app' });
  expect(await link.isVisible()).to.equal(true);
  expect(await link.getAttribute('href'), 'the otpauth:// link is the QR code').to.equal(scanned);
  expect(await page.locator('#password-qr').getAttribute('src'), 'the password QR code is gone').to.equal(null);
  expect(await page.locator('#save-password').inputValue(), 'the password form is emptied with its step').to.equal('');
  if (page.viewportSize()?.width === PHONE.width) {
    const [linkBox, qrBox] = await Promise.all([link.boundingBox(), totpImage.boundingBox()]);
    expect(linkBox?.y, 'on a phone, the link comes before the QR code').to.be.below(qrBox?.y as number);
  }
  if (clipboard) {
    await step.getByRole('button', { name: 'Copy the key' }).click();
    await message(page).getByText('The key is copied.', { exact: false }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).to.equal(secret);
  }
  await snap(page, `${shots}-totp-qr`);
  await step.getByRole('button', { name: 'I added it — next: recovery codes' }).click();
  return secret;
}

/** The codes step: the codes the service answered, one per list item; ticked as saved; gone from the page after. */
async function saveCodes(page: Page, steps: Steps, answered: string[], shots: string): Promise<string[]> {
  const step = section(page, steps.codes);
  await step.waitFor();
  const shown = await step.getByRole('list', { name: 'Your recovery codes' }).getByRole('listitem').allTextContents();
  expect(shown.map((item) => item.trim())).to.deep.equal(answered);
  expect(shown).to.have.length(10);
  for (const code of shown) expect(code.trim()).to.match(CODE_SHAPE);
  await snap(page, `${shots}-recovery-codes`);
  await step.getByLabel('I have saved them').check();
  await step.getByRole('button', { name: 'Continue to the first sign-in' }).click();
  await section(page, steps.activate).waitFor();
  expect(await page.locator('#recovery-codes li').count(), 'the codes leave the page with their step').to.equal(0);
  const html = await page.content();
  for (const code of answered) expect(html).to.not.contain(code);
  return answered;
}

/**
 * The first sign-in of an enrollment, with the password and the first code of the new
 * secret. New credentials: the password is already there, read from its QR code in the
 * page; a new authenticator after a lost phone: typed. The code is typed as people do,
 * in two groups.
 */
async function activateIn(page: Page, steps: Steps, account: Account, separator = ' '): Promise<void> {
  const step = section(page, steps.activate);
  const password = step.getByLabel(steps.passwordLabel);
  if (steps === NEW_CREDENTIALS) {
    expect(await password.inputValue(), 'the activation is pre-filled with the password of the QR code').to.equal(
      account.password,
    );
    expect(await step.getByText('Filled in from step 1.').isVisible()).to.equal(true);
  } else {
    await password.fill(account.password);
  }
  const code = await nextCode(account);
  await step.getByLabel(steps.codeLabel).fill(`${code.slice(0, 3)}${separator}${code.slice(3)}`);
  await step.getByRole('button', { name: 'Activate and sign in' }).click();
}

/** The page's visible text, its markup, storage and address never hold the password. */
async function expectPasswordNotShown(page: Page, password: string): Promise<void> {
  expect(await page.evaluate<string>('document.body.innerText')).to.not.contain(password);
  expect(await page.content()).to.not.contain(password);
  await expectNothingKept(page, [password]);
}

/**
 * The password step's "On this device" form: the password read from the QR code in the
 * page, in the fields a password manager saves (username + new-password), never in the
 * page's text; "Copy password" copies it (when the context may read the clipboard).
 */
async function checkPasswordManagerForm(
  page: Page,
  username: string,
  password: string,
  clipboard: boolean,
): Promise<void> {
  const form = page.getByRole('form', { name: 'On this device' });
  await form.waitFor();
  const user = form.getByLabel('Username');
  const secret = form.getByLabel('New password');
  expect(await user.inputValue()).to.equal(username);
  expect(await secret.inputValue(), 'the password decoded in the browser').to.equal(password);
  expect(await user.getAttribute('autocomplete')).to.equal('username');
  expect(await secret.getAttribute('autocomplete')).to.equal('new-password');
  expect(await secret.getAttribute('type')).to.equal('password');
  if (page.viewportSize()?.width === PHONE.width) {
    const [formBox, qrBox] = await Promise.all([form.boundingBox(), page.locator('#password-qr').boundingBox()]);
    expect(formBox?.y, 'on a phone, the password manager comes before the QR code').to.be.below(qrBox?.y as number);
  }
  // From our own origin only: the decoder is /jsqr.js of the portal.
  expect(
    await page.evaluate<string[]>(
      'performance.getEntriesByType("resource").map((e) => e.name).filter((n) => /jsqr/.test(n))',
    ),
  ).to.deep.equal([`${new URL(page.url()).origin}/jsqr.js`]);
  await expectPasswordNotShown(page, password);
  if (clipboard) {
    await form.getByRole('button', { name: 'Copy password' }).click();
    await message(page).getByText('The password is copied.', { exact: false }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).to.equal(password);
  }
  await form.getByRole('button', { name: 'Save in my password manager' }).click();
  await message(page)
    .getByText(/offers to save the password, accept it/)
    .waitFor();
  await expectPasswordNotShown(page, password);
}

/**
 * From the password QR code to the signed-in state, in an already open creation or renewal:
 * reads both QR codes from the page, keeps the recovery codes, types the password and the
 * first code. `lastStep`: the account's last accepted TOTP step, when it has one.
 */
async function finishEnrollment(
  page: Page,
  username: string,
  shots: string,
  lastStep = 0,
  clipboard = false,
): Promise<Account & { codes: string[] }> {
  const step1 = section(page, NEW_CREDENTIALS.password);
  await step1.getByText('Save it now, it will not be shown again.').waitFor();
  const passwordImage = step1.getByRole('img', { name: 'QR code of your new password' });
  const password = await readQrFromSource(passwordImage);
  expect(await readQrFromScreen(passwordImage)).to.equal(password);
  expect(password).to.have.length(24);
  await checkPasswordManagerForm(page, username, password, clipboard);
  await snap(page, `${shots}-1-password-qr`);

  const codes = await codesAnswered(page);
  await step1.getByRole('button', { name: /next: two-factor setup/ }).click();
  const secret = await readAuthenticator(page, NEW_CREDENTIALS, `${shots}-2`, clipboard);
  const saved = await saveCodes(page, NEW_CREDENTIALS, await codes(), `${shots}-3`);

  const account: Account = { username, password, secret, lastStep };
  await activateIn(page, NEW_CREDENTIALS, account);
  await expectSignedIn(page, username);
  await snap(page, `${shots}-4-signed-in`);
  return { ...account, codes: saved };
}

async function expectSignedIn(page: Page, username: string): Promise<void> {
  const done = section(page, 'You are signed in');
  await done.waitFor();
  const text = (await done.locator('#done-text').textContent()) ?? '';
  expect(text).to.contain(`Signed in as ${username}.`);
  expect(text).to.match(/valid until .*\b20\d\d\b/);
  expect(await message(page).isVisible()).to.equal(false);
  // The header says who is signed in, and offers to sign out instead of signing in.
  const header = page.getByRole('banner');
  expect((await header.getByRole('navigation').innerText()).replace(/\s+/g, ' ').trim()).to.equal(
    `Signed in as ${username} Sign out`,
  );
  expect(await header.getByRole('button', { name: 'Sign out' }).isVisible()).to.equal(true);
}

async function createInBrowser(
  browser: Browser,
  base: string,
  username: string,
  shots: string,
  viewport = DESKTOP,
  clipboard = false,
): Promise<Account> {
  const { context, page } = await openPortal(browser, base, viewport);
  try {
    if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.getByRole('button', { name: 'Create an account' }).click();
    const create = section(page, 'Create an account');
    await create.getByLabel('Username').fill(username);
    await snap(page, `${shots}-0-create`);
    await create.getByRole('button', { name: 'Create my account' }).click();
    const account = await finishEnrollment(page, username, shots, 0, clipboard);
    expect(pageProblems(page)).to.deep.equal([]);
    return account;
  } finally {
    await context.close();
  }
}

async function signInForm(page: Page, account: Pick<Account, 'username' | 'password'>, code: string): Promise<void> {
  const form = section(page, 'Sign in');
  await form.getByLabel('Username').fill(account.username);
  await form.getByLabel('Password', { exact: true }).fill(account.password);
  await form.getByLabel('6-digit code').fill(code);
  await form.getByRole('button', { name: 'Sign in' }).click();
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

    /** What a function answers with each code of openapi.yaml's ErrorCode (contract §2). */
    const STATUS: Record<string, number> = {
      invalid_request: 400,
      invalid_credentials: 401,
      invalid_token: 401,
      unauthenticated: 401,
      forbidden: 403,
      credentials_expired: 403,
      account_disabled: 403,
      method_not_allowed: 405,
      request_timeout: 408,
      account_exists: 409,
      not_found: 404,
      payload_too_large: 413,
      unsupported_media_type: 415,
      too_many_requests: 429,
      internal: 500,
      unavailable: 503,
    };
    const RETRY_AFTER: Record<string, string> = { too_many_requests: '900', unavailable: '2' };
    const SIGN_IN_WORDS: Record<string, RegExp> = {
      invalid_request:
        /^Check what you typed: your username \(letters, digits and \. _ - @\) and the 6 digits your authenticator app shows\.$/,
      invalid_credentials: /^The username, password or code is not correct\./,
      unauthenticated: /refused the page's request/,
      forbidden: /refused the page's request/,
      credentials_expired: /must be renewed/,
      account_disabled: /^This account is disabled\./,
      method_not_allowed: /could not talk to the credential service/,
      not_found: /could not talk to the credential service/,
      payload_too_large: /could not talk to the credential service/,
      unsupported_media_type: /could not talk to the credential service/,
      request_timeout: /^Your request took too long to reach the service: the connection is slow or was interrupted\./,
      too_many_requests:
        /^Too many failed sign-ins for this username or from your network, so sign-in is paused\. Try again in 15 minutes \(after /,
      internal: /Something went wrong on our side.*\(reference req-42\)\.$/,
      unavailable: /^The service is busy or briefly unavailable\. Try again in 2 seconds \(after /,
    };
    const CREATE_WORDS: Record<string, RegExp> = {
      invalid_request: /^This username cannot be used\. A username is 1 to 64 characters: letters of one alphabet/,
      invalid_token: /^New accounts need an invitation here\./,
      account_exists:
        /Created it here yourself and lost the setup page before its first sign-in\? The name is freed 15 minutes after you started/,
      request_timeout: /took too long to reach the service/,
      too_many_requests: /^Too many requests right now\. Try again in 15 minutes/,
      unavailable: /busy or briefly unavailable\. Try again in 2 seconds/,
    };

    for (const [name, viewport] of VIEWPORTS) {
      it(`says every error code of openapi.yaml in plain words at sign-in and at creation, never the service's field wording (${name})`, async () => {
        expect(ERROR_CODES).to.have.members(Object.keys(STATUS));
        const { context, page } = await openPortal(browser, server.url, viewport);
        try {
          for (const [step, path, words] of [
            ['sign-in', 'authenticate', SIGN_IN_WORDS],
            ['creation', 'generate-password', CREATE_WORDS],
          ] as const) {
            for (const code of ERROR_CODES) {
              await page.route(`**/${path}`, (route) =>
                route.fulfill({
                  status: STATUS[code] as number,
                  headers: {
                    'X-Request-Id': 'req-42',
                    ...(RETRY_AFTER[code] === undefined ? {} : { 'Retry-After': RETRY_AFTER[code] }),
                  },
                  contentType: 'application/json',
                  body: JSON.stringify({ error: 'Field "username" must be a string of 1 to 64 characters.', code }),
                }),
              );
              if (step === 'sign-in') {
                await signInForm(page, { username: 'zoe', password: 'a password' }, '123456');
              } else {
                await page.getByRole('banner').getByRole('button', { name: 'Create an account' }).click();
                await section(page, 'Create an account').getByLabel('Username').fill('zoe');
                await section(page, 'Create an account').getByRole('button', { name: 'Create my account' }).click();
              }
              await message(page).waitFor();
              const said = (await message(page).textContent()) ?? '';
              expect(said, `${step}, ${code}`).to.not.contain('Field "').and.not.contain('Unexpected answer');
              if (words[code] !== undefined) expect(said, `${step}, ${code}`).to.match(words[code]);
              await page.unroute(`**/${path}`);
              await page.getByRole('banner').getByRole('button', { name: 'Sign in' }).click();
            }
          }
          // Without Retry-After, a 503 still says something useful.
          await page.route('**/authenticate', (route) =>
            route.fulfill({ status: 503, contentType: 'text/plain', body: 'upstream connect error' }),
          );
          await signInForm(page, { username: 'zoe', password: 'a password' }, '123456');
          await message(page)
            .getByText('The service is temporarily unavailable. Please try again in a minute.')
            .waitFor();
          await page.unroute('**/authenticate');
          await snap(page, `errors-${name}-plain-words`);
          expect(pageProblems(page)).to.deep.equal([]);
        } finally {
          await context.close();
        }
      });

      it(`checks the username in the page before sending, by openapi.yaml's pattern, after the service's normalisation (${name})`, async () => {
        const { context, page } = await openPortal(browser, server.url, viewport, '/?create');
        const sent: string[] = [];
        page.on('request', (r) => {
          if (r.url().endsWith('/generate-password')) sent.push(r.postData() ?? '');
        });
        try {
          const create = section(page, 'Create an account');
          const field = create.getByLabel('Username');
          for (const [typed, words] of [
            [
              'Jean Dupont!',
              /^A username cannot contain spaces, "!"\. A username is 1 to 64 characters: letters of one alphabet \(for example all Latin\), digits and \. _ - @, without spaces\.$/,
            ],
            ['a'.repeat(65), /^This username is 65 characters long\. A username is 1 to 64 characters/],
            ['   ', /^Enter the username you want\./],
          ] as const) {
            await field.fill(typed);
            await create.getByRole('button', { name: 'Create my account' }).click();
            await message(page).getByText(words).waitFor();
            expect(await field.getAttribute('aria-invalid')).to.equal('true');
            expect(await focusedId(page)).to.equal('create-username');
          }
          await snap(page, `username-${name}-refused-in-page`);
          expect(sent, 'nothing was sent').to.deep.equal([]);
          // Full-width capitals are the service's "ｚｏｅ.new" → "zoe.new": sent as it will be stored (a stand-in answers).
          await page.route('**/generate-password', (route) =>
            route.fulfill({
              status: 409,
              contentType: 'application/json',
              body: JSON.stringify({ error: 'x', code: 'account_exists' }),
            }),
          );
          await field.fill(' ＺＯＥ.new ');
          await create.getByRole('button', { name: 'Create my account' }).click();
          await message(page)
            .getByText(/username is taken/)
            .waitFor();
          expect(sent.map((body) => JSON.parse(body) as unknown)).to.deep.equal([{ username: 'zoe.new' }]);
          expect(await field.getAttribute('aria-invalid')).to.equal(null);
        } finally {
          await context.close();
        }
      });
    }
  });
});

/**
 * An account made and activated over HTTP (the browser is not what these tests look at
 * there), activated "a while ago": its last accepted TOTP step is moved ten steps back in
 * PostgreSQL, so the journey that follows has the steps around now to itself.
 */
async function activeOverHttp(live: LiveServer, username: string): Promise<Account & { codes: string[] }> {
  const enrolled = await createAndEnroll(live.url, username);
  const account: Account = { username, password: enrolled.password, secret: enrolled.secret, lastStep: 0 };
  const activated = await postJson(`${live.url}/authenticate`, {
    username,
    password: account.password,
    totp: await nextCode(account),
  });
  expect(activated.status, activated.text).to.equal(200);
  expect(activated.body.recovery_codes_left).to.equal(10);
  await live.backend.sql('UPDATE users SET last_totp_step = last_totp_step - 10 WHERE username = $1', [username]);
  account.lastStep -= 10;
  return { ...account, codes: enrolled.recoveryCodes };
}

const recoverOverHttp = (
  base: string,
  account: Pick<Account, 'username' | 'password'>,
  code: string,
): Promise<Answer> =>
  postJson(`${base}/authenticate`, { username: account.username, password: account.password, recovery_code: code });

/** The page keeps nothing: no storage, no cookie, nothing in the address. */
async function expectNothingKept(page: Page, secrets: string[]): Promise<void> {
  const kept = await page.evaluate<string>(
    'JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href])',
  );
  expect(JSON.parse(kept)).to.have.length(4);
  for (const secret of secrets) expect(kept).to.not.contain(secret);
  expect(await page.evaluate<number>('localStorage.length + sessionStorage.length')).to.equal(0);
  expect(new URL(page.url()).search).to.equal('');
}

describe('portal: recovery codes, lost phone, renewal, a lost setup page (PostgreSQL, ENROLLMENT_TTL 20 min)', function () {
  this.timeout(120_000);
  const live = useServer('postgres', { ENROLLMENT_TTL: '20 min' });
  let browser: Browser;
  before(async function () {
    browser = await launchChromium(this);
  });
  after(async () => browser?.close());

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
      const used = await recoverOverHttp(live.url, account, answered[4] as string);
      expect(used.status, used.text).to.equal(200);
      expect(used.body.recovery_codes_left).to.equal(9);
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
      await page.route('**/authenticate', (route) =>
        route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({
            authenticated: true,
            username: 'erik',
            expires_at: '2027-05-01T00:00:00.000Z',
            recovery_codes_left: 9,
          }),
        }),
      );
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
      const step = await stepAfter(renewed.lastStep);
      const old = await postJson(`${live.url}/authenticate`, {
        username: 'erik',
        password: erik.password,
        totp: codeAt(erik.secret, step),
      });
      expect(old.status, old.text).to.equal(401);
      const fresh = await postJson(`${live.url}/authenticate`, {
        username: 'erik',
        password: erik.password,
        totp: codeAt(secret, step),
      });
      expect(fresh.status, fresh.text).to.equal(200);
      expect((await recoverOverHttp(live.url, erik, erik.codes[1] as string)).status).to.equal(401);
      const newCode = await recoverOverHttp(live.url, erik, answered[0] as string);
      expect(newCode.status, newCode.text).to.equal(200);
      expect(newCode.body.recovery_codes_left).to.equal(9);
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
      const step = await stepAfter(renewed.lastStep);
      const old = await postJson(`${live.url}/authenticate`, {
        username: 'rita',
        password: rita.password,
        totp: codeAt(rita.secret, step),
      });
      expect(old.status, old.text).to.equal(401);
      const fresh = await postJson(`${live.url}/authenticate`, {
        username: 'rita',
        password: renewed.password,
        totp: codeAt(renewed.secret, step),
      });
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
        await page.route('**/authenticate', (route) =>
          route.fulfill({
            status: 200,
            contentType: 'application/json',
            body: JSON.stringify({
              authenticated: true,
              username: 'lena',
              expires_at: '2027-05-01T00:00:00.000Z',
              recovery_codes_left: left,
            }),
          }),
        );
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
