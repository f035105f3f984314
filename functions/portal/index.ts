// portal: the web page of the credential service (sign in, create an account, accept an
// invitation, renew expired credentials). It serves one HTML page, its script and style
// sheet, and a small JSON configuration naming where the JSON functions answer; the
// browser calls those functions directly. No database, no third-party origin.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { http } from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { describeError, log as rootLog } from '../../lib/log.js';

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

/** The Content-Security-Policy: our own script and style only; connections to us and the configured functions. */
export function contentSecurityPolicy(config: PortalConfig): string {
  const origins = new Set<string>();
  for (const value of Object.values(config)) {
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

// The compiled page sits beside this module: dist/functions/portal/web/ (beside a bundle:
// web/, scripts/bundle.mjs).
function asset(file: string, type: string): Asset {
  return { type, body: readFileSync(new URL(`./web/${file}`, import.meta.url)) };
}

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

interface Prepared {
  assets: Record<string, Asset>;
  headers: Record<string, string>;
}

let prepared: Prepared | undefined;

/**
 * Reads PORTAL_*_URL and the page's files, once. The server calls it before it listens, so
 * that a bad setting stops the start with one line (bin/serve-portal.ts); importing the
 * module reads nothing.
 */
export function preparePortal(): Prepared {
  if (prepared !== undefined) return prepared;
  const config = portalConfig();
  prepared = {
    assets: {
      '/': asset('index.html', 'text/html; charset=utf-8'),
      '/app.js': asset('app.js', 'text/javascript; charset=utf-8'),
      '/app.css': asset('app.css', 'text/css; charset=utf-8'),
      '/config.json': { type: 'application/json; charset=utf-8', body: Buffer.from(JSON.stringify(config)) },
    },
    headers: { ...SECURITY_HEADERS, 'Content-Security-Policy': contentSecurityPolicy(config) },
  };
  return prepared;
}

export function portalHandler(req: Request, res: Response): void {
  const requestId = randomUUID();
  const log = rootLog.child({ function: 'portal', request_id: requestId });
  try {
    const { assets, headers } = preparePortal();
    res.set({ ...headers, 'X-Request-Id': requestId });
    const path = req.path === '/index.html' ? '/' : req.path;
    const found = assets[path];
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
