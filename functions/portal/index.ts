// portal: the web page of the credential service (sign in, create an account, accept an
// invitation, renew expired credentials). It serves one HTML page, its script and style
// sheet, the QR decoder the page reads the password QR code with (jsqr), and a small JSON
// configuration naming where the JSON functions answer and what the page tells people
// (the username rule of openapi.yaml, the enrollment window); the browser calls those
// functions directly. No database, no third-party origin.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { http } from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { boolVar, intervalVar } from '../../lib/config.js';
import { describeError, log as rootLog } from '../../lib/log.js';
import { OPENAPI_DOCUMENT } from '../../lib/openapi.js';

/** The URLs the page calls, from PORTAL_*_URL (default: the same origin, as in the dev server). */
export interface PortalConfig {
  generatePassword: string;
  generate2fa: string;
  authenticate: string;
}

const SETTINGS: Array<[keyof PortalConfig, string, string]> = [
  ['generatePassword', 'PORTAL_GENERATE_PASSWORD_URL', '/generate-password'],
  ['generate2fa', 'PORTAL_GENERATE_2FA_URL', '/generate-2fa'],
  ['authenticate', 'PORTAL_AUTHENTICATE_URL', '/authenticate'],
];

export function portalConfig(env: Record<string, string | undefined> = process.env): PortalConfig {
  const config = {} as PortalConfig;
  for (const [key, variable, fallback] of SETTINGS) {
    const raw = env[variable]?.trim();
    if (raw === undefined || raw === '') {
      config[key] = fallback;
      continue;
    }
    let url: URL;
    try {
      url = new URL(raw, 'http://same-origin.invalid');
    } catch {
      throw new Error(`${variable} must be a URL such as https://authenticate.cofrap.example.com/, got "${raw}"`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${variable} must be an http(s) URL, got "${raw}"`);
    config[key] = raw;
  }
  return config;
}

/** The username rule the page checks before sending: openapi.yaml's Username pattern, split into its character class and length. */
export interface UsernameRule {
  pattern: string;
  characters: string;
  maxLength: number;
}

/** What config.json tells the page: the URLs, and the facts its sentences need. */
export interface PageConfig extends PortalConfig {
  username: UsernameRule;
  /** ENROLLMENT_TTL in words ("15 minutes"): how long a setup started and lost keeps its name. */
  enrollmentWindow: string;
  /** SELF_REGISTRATION: whether anyone may create an account without an invitation. */
  selfRegistration: boolean;
}

/** The Username schema of openapi.yaml, read from the document the build copies beside the code (dist/openapi.json). */
export function usernameRule(document: Record<string, unknown> = OPENAPI_DOCUMENT): UsernameRule {
  const schemas = (document.components as { schemas?: Record<string, { pattern?: unknown }> } | undefined)?.schemas;
  const pattern = schemas?.Username?.pattern;
  // The page explains a refusal by the characters and the length, so the pattern must keep this shape.
  const parts = typeof pattern === 'string' ? /^\^(\[.+\])\{1,(\d+)\}\$$/.exec(pattern) : null;
  if (typeof pattern !== 'string' || parts === null) throw new Error(`openapi.yaml's Username pattern is not of the form ^[…]{1,N}$: ${String(pattern)}`);
  return { pattern, characters: parts[1] as string, maxLength: Number(parts[2]) };
}

const UNIT_WORDS: Array<[RegExp, string]> = [
  [/^(years?|y)$/i, 'year'],
  [/^(mons?|months?)$/i, 'month'],
  [/^(weeks?|w)$/i, 'week'],
  [/^(days?|d)$/i, 'day'],
  [/^(hours?|h)$/i, 'hour'],
  [/^(minutes?|mins?|m)$/i, 'minute'],
  [/^(seconds?|secs?|s)$/i, 'second'],
];

/** A PostgreSQL interval as lib/config accepts it ("15 min", "PT15M") in words: "15 minutes". */
export function intervalInWords(interval: string): string {
  const iso = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i.exec(interval);
  const pairs: Array<[number, string]> = [];
  if (iso !== null) {
    ['year', 'month', 'week', 'day', 'hour', 'minute', 'second'].forEach((unit, index) => {
      const count = iso[index + 1];
      if (count !== undefined) pairs.push([Number(count), unit]);
    });
  } else {
    for (const [, count, unit] of interval.matchAll(/(\d+)\s*([a-z]+)/gi)) {
      const word = UNIT_WORDS.find(([shape]) => shape.test(unit as string))?.[1] ?? (unit as string);
      pairs.push([Number(count), word]);
    }
  }
  return pairs.map(([count, unit]) => `${count} ${unit}${count === 1 ? '' : 's'}`).join(' ');
}

export function pageConfig(env: Record<string, string | undefined> = process.env): PageConfig {
  return {
    ...portalConfig(env),
    username: usernameRule(),
    enrollmentWindow: intervalInWords(intervalVar(env, 'ENROLLMENT_TTL', '15 minutes')),
    selfRegistration: boolVar(env, 'SELF_REGISTRATION', true),
  };
}

/** The Content-Security-Policy: our own script and style only; connections to us and the configured functions. */
export function contentSecurityPolicy(config: PortalConfig): string {
  const origins = new Set<string>();
  for (const value of [config.generatePassword, config.generate2fa, config.authenticate]) {
    if (/^https?:\/\//i.test(value)) origins.add(new URL(value).origin);
  }
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    ['connect-src', "'self'", ...origins].join(' '),
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

interface Asset {
  type: string;
  body: Buffer;
}

// The compiled page sits beside this module: dist/functions/portal/web/.
function asset(file: string, type: string): Asset {
  return { type, body: readFileSync(new URL(`./web/${file}`, import.meta.url)) };
}

// jsqr, the QR decoder the page reads the password QR code with, served from our own
// origin (script-src 'self'): its browser build is the package's main file.
function jsqrAsset(): Asset {
  return { type: 'text/javascript; charset=utf-8', body: readFileSync(createRequire(import.meta.url).resolve('jsqr')) };
}

const config = pageConfig();
const csp = contentSecurityPolicy(config);
const ASSETS: Record<string, Asset> = {
  '/': asset('index.html', 'text/html; charset=utf-8'),
  '/app.js': asset('app.js', 'text/javascript; charset=utf-8'),
  '/app.css': asset('app.css', 'text/css; charset=utf-8'),
  '/jsqr.js': jsqrAsset(),
  '/config.json': { type: 'application/json; charset=utf-8', body: Buffer.from(JSON.stringify(config)) },
};

const SECURITY_HEADERS = {
  'Content-Security-Policy': csp,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export function portalHandler(req: Request, res: Response): void {
  const requestId = randomUUID();
  const log = rootLog.child({ function: 'portal', request_id: requestId });
  try {
    res.set({ ...SECURITY_HEADERS, 'X-Request-Id': requestId });
    const path = req.path === '/index.html' ? '/' : req.path;
    const found = ASSETS[path];
    if (found === undefined) {
      res.status(404).json({ error: `Nothing is served at ${req.path}.`, code: 'not_found' });
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).set('Allow', 'GET').json({ error: `Method ${req.method} is not allowed; use GET.`, code: 'method_not_allowed' });
    } else {
      res.status(200).type(found.type).send(found.body);
    }
  } catch (error) {
    log.error('unhandled_error', describeError(error));
    if (!res.headersSent) res.status(500).json({ error: 'Something unexpected happened.', code: 'internal' });
  }
  log.info('request', { method: req.method, path: req.path, status: res.statusCode });
}

http('portal', portalHandler);
