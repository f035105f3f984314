// The portal's words for every answer of the contract, in headless Chromium: each error
// code of openapi.yaml at sign-in (at a phone viewport) and at creation (at a desktop one),
// the functions' answers played by a stand-in (page.route), and the username checked in
// the page before anything is sent, at both viewports. The flows themselves: portal.test.ts.
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { startProcess } from './helpers/process.js';
import type { RunningProcess } from './helpers/process.js';
import { launchChromium, snap } from './helpers/browser.js';
import {
  VIEWPORTS,
  ERROR_CODES,
  section,
  message,
  openPortal,
  focusedId,
  pageProblems,
  signInForm,
} from './helpers/portal.js';

describe('portal: every error in plain words', function () {
  this.timeout(120_000);
  // The functions' answers are played by a stand-in (page.route): the page is what is
  // tested, so it is served alone, as its image serves it (no database, no secret).
  let portal: RunningProcess | undefined;
  let browser: Browser;
  before(async function () {
    browser = await launchChromium(this);
    portal = await startProcess({ script: 'serve', env: { FUNCTION_TARGET: 'portal' } });
  });
  after(async () => {
    await portal?.stop();
    await browser?.close();
  });
  const portalUrl = (): string => {
    if (portal === undefined) throw new Error('the portal is not running');
    return portal.url;
  };

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

  // The words do not depend on the viewport: each step's codes are shown once, sign-in on a
  // phone and creation on a desktop, so that both layouts show the error messages.
  const [DESKTOP_VIEW, PHONE_VIEW] = VIEWPORTS;
  for (const [step, path, words, [name, viewport]] of [
    ['sign-in', 'authenticate', SIGN_IN_WORDS, PHONE_VIEW],
    ['creation', 'generate-password', CREATE_WORDS, DESKTOP_VIEW],
  ] as const) {
    it(`says every error code of openapi.yaml in plain words at ${step}, never the service's field wording (${name})`, async () => {
      expect(ERROR_CODES).to.have.members(Object.keys(STATUS));
      const { context, page } = await openPortal(browser, portalUrl(), viewport);
      try {
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
        if (step === 'sign-in') {
          // Without Retry-After, a 503 still says something useful.
          await page.route('**/authenticate', (route) =>
            route.fulfill({ status: 503, contentType: 'text/plain', body: 'upstream connect error' }),
          );
          await signInForm(page, { username: 'zoe', password: 'a password' }, '123456');
          await message(page)
            .getByText('The service is temporarily unavailable. Please try again in a minute.')
            .waitFor();
          await page.unroute('**/authenticate');
        }
        await snap(page, `errors-${step}-${name}-plain-words`);
        expect(pageProblems(page)).to.deep.equal([]);
      } finally {
        await context.close();
      }
    });
  }

  for (const [name, viewport] of VIEWPORTS) {
    it(`checks the username in the page before sending, by openapi.yaml's pattern, after the service's normalisation (${name})`, async () => {
      const { context, page } = await openPortal(browser, portalUrl(), viewport, '/?create');
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
