// The portal's flows as a user goes through them in headless Chromium, shared by the
// portal's test files: opening the page, the enrollment steps (both QR codes read from the
// page, the recovery codes, the first code), the sign-in form, and what the page must
// never show or keep.
import { expect } from 'chai';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { LiveServer } from './backends.js';
import { readQrFromScreen, readQrFromSource, snap } from './browser.js';
import { postJson, rememberSecretsOf } from './http.js';
import { createAndEnroll } from './journey.js';
import type { Answer } from './http.js';
import { pause } from './time.js';
import { codeAt, currentStep } from './totp.js';
import { PROJECT_ROOT } from './process.js';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const VIEWPORTS = [
  ['desktop', DESKTOP],
  ['phone', PHONE],
] as const;

/** openapi.yaml itself (not the build's copy): the source of the username rule and of the error codes. */
export const OPENAPI = parse(readFileSync(`${PROJECT_ROOT}/openapi.yaml`, 'utf8')) as {
  components: { schemas: Record<string, { pattern?: string; enum?: string[] }> };
};
export const ERROR_CODES = OPENAPI.components.schemas.ErrorCode?.enum as string[];

export interface Account {
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
export async function nextCode(account: Account): Promise<string> {
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
export async function stepAfter(lastStep: number): Promise<number> {
  while (lastStep > currentStep()) await pause(250);
  return Math.max(lastStep + 1, currentStep());
}

export const section = (page: Page, name: string): Locator => page.getByRole('region', { name });

export const message = (page: Page): Locator => page.getByRole('alert');

export async function openPortal(
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

export function focusedId(page: Page): Promise<string> {
  return page.evaluate<string>('document.activeElement?.id ?? ""');
}

export function pageProblems(page: Page): string[] {
  return (page as Page & { problems?: string[] }).problems ?? [];
}

/** The headings and labels of the enrollment steps: a new account or a renewal, or a new authenticator after a lost phone. */
export interface Steps {
  password?: string;
  app: string;
  codes: string;
  activate: string;
  passwordLabel: string;
  codeLabel: string;
}
export const NEW_CREDENTIALS: Required<Steps> = {
  password: 'Step 1 of 4 — your password',
  app: 'Step 2 of 4 — your authenticator app',
  codes: 'Step 3 of 4 — your recovery codes',
  activate: 'Step 4 of 4 — activate',
  passwordLabel: 'Password (from the first QR code)',
  codeLabel: 'First 6-digit code from your app',
};
export const NEW_AUTHENTICATOR: Steps = {
  app: 'Step 1 of 3 — your new authenticator app',
  codes: 'Step 2 of 3 — your new recovery codes',
  activate: 'Step 3 of 3 — activate your new authenticator',
  passwordLabel: 'Your password',
  codeLabel: 'First 6-digit code from your new app',
};

export const CODE_SHAPE = /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/;

/** The recovery codes generate-2fa answers, as the page received them (call before the click that sends it). */
export async function codesAnswered(page: Page): Promise<() => Promise<string[]>> {
  const answered = page.waitForResponse((r) => r.url().endsWith('/generate-2fa') && r.status() === 200);
  return async () => ((await (await answered).json()) as { recovery_codes: string[] }).recovery_codes;
}

/** The authenticator step: the otpauth secret read from the QR code on screen, checked against the manual key. */
export async function readAuthenticator(page: Page, steps: Steps, shots: string, clipboard = false): Promise<string> {
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
export async function saveCodes(page: Page, steps: Steps, answered: string[], shots: string): Promise<string[]> {
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
export async function activateIn(page: Page, steps: Steps, account: Account, separator = ' '): Promise<void> {
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
export async function finishEnrollment(
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

export async function expectSignedIn(page: Page, username: string): Promise<void> {
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

export async function createInBrowser(
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

export async function signInForm(
  page: Page,
  account: Pick<Account, 'username' | 'password'>,
  code: string,
): Promise<void> {
  const form = section(page, 'Sign in');
  await form.getByLabel('Username').fill(account.username);
  await form.getByLabel('Password', { exact: true }).fill(account.password);
  await form.getByLabel('6-digit code').fill(code);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * An account made and activated over HTTP (the browser is not what these tests look at
 * there), activated "a while ago": its last accepted TOTP step is moved ten steps back in
 * PostgreSQL, so the journey that follows has the steps around now to itself.
 */
export async function activeOverHttp(live: LiveServer, username: string): Promise<Account & { codes: string[] }> {
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

export const recoverOverHttp = (
  base: string,
  account: Pick<Account, 'username' | 'password'>,
  code: string,
): Promise<Answer> =>
  postJson(`${base}/authenticate`, { username: account.username, password: account.password, recovery_code: code });

/** The page keeps nothing: no storage, no cookie, nothing in the address. */
export async function expectNothingKept(page: Page, secrets: string[]): Promise<void> {
  const kept = await page.evaluate<string>(
    'JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href])',
  );
  expect(JSON.parse(kept)).to.have.length(4);
  for (const secret of secrets) expect(kept).to.not.contain(secret);
  expect(await page.evaluate<number>('localStorage.length + sessionStorage.length')).to.equal(0);
  expect(new URL(page.url()).search).to.equal('');
}

/**
 * Over HTTP, at one step the service accepts now (after `lastStep`): a sign-in with the
 * old password and secret, then one with the new. After a renewal or a new authenticator,
 * the first must be refused and the second accepted.
 */
export async function signInOldThenNew(
  base: string,
  username: string,
  old: Pick<Account, 'password' | 'secret'>,
  fresh: Pick<Account, 'password' | 'secret' | 'lastStep'>,
): Promise<{ old: Answer; fresh: Answer }> {
  const step = await stepAfter(fresh.lastStep);
  const signIn = (account: Pick<Account, 'password' | 'secret'>): Promise<Answer> =>
    postJson(`${base}/authenticate`, { username, password: account.password, totp: codeAt(account.secret, step) });
  return { old: await signIn(old), fresh: await signIn(fresh) };
}
