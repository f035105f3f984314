// Headless Chromium driven by playwright-core, for the portal's tests: Debian's
// chromium-headless-shell, the same engine as Debian's chromium without the desktop
// browser around it (what Playwright itself runs for headless tests). Measured here, the
// portal's three files took 36.8 s and 42 s of CPU with it, 65.7 s and 64 s with the full
// browser's --headless. Another browser: CHROMIUM_PATH. Mandatory under CI=true; locally
// skipped with a visible line when it is absent.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Locator, Page } from 'playwright-core';
import { PROJECT_ROOT } from './process.js';
import { decodeQrPng } from './qr.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium-headless-shell';
export const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts/portal');

/** Call in a before() hook: the browser, or a skip (locally) / failure (CI) without Chromium. */
export async function launchChromium(context: Mocha.Context): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true')
      throw new Error(
        `Chromium is required under CI=true but ${CHROMIUM} is missing (apt-get install chromium-headless-shell)`,
      );
    console.log(`    ! SKIPPED: no Chromium at ${CHROMIUM}; the portal's browser tests did not run`);
    context.skip();
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * With PORTAL_SCREENSHOTS=1, keeps a screenshot of the whole page under
 * test-artifacts/portal/: each step of each flow, to look at when a flow changes or fails.
 * Off by default: some sixty full-page screenshots cost a run of the portal's tests about
 * a sixth of its time, and nothing reads them.
 */
export async function snap(page: Page, name: string): Promise<void> {
  if (process.env.PORTAL_SCREENSHOTS !== '1') return;
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Reads the QR code of an <img> the way the user's phone would see it: from its pixels on screen. */
export async function readQrFromScreen(image: Locator): Promise<string> {
  await image.scrollIntoViewIfNeeded();
  const png = await image.screenshot();
  return decodeQrPng(png.toString('base64'));
}

/** Reads the QR code of an <img> from the PNG the page shows (its data: URL). */
export async function readQrFromSource(image: Locator): Promise<string> {
  const src = await image.getAttribute('src');
  const match = /^data:image\/png;base64,(.+)$/.exec(src ?? '');
  if (match === null) throw new Error(`the image does not show a PNG data URL: ${String(src).slice(0, 60)}`);
  return decodeQrPng(match[1] as string);
}
