// portal: the web page of the credential service (sign in, create an account, accept an
// invitation, renew expired credentials). It serves one HTML page, its script and style
// sheet, and a small JSON configuration naming where the JSON functions answer; the
// browser calls those functions directly. No database, no third-party origin.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { http } from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { loadPortalConfig } from '../../lib/config.js';
import type { PortalConfig } from '../../lib/config.js';
import { describeError, log as rootLog } from '../../lib/log.js';

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

// The compiled page sits beside this module: dist/functions/portal/web/.
function asset(file: string, type: string): Asset {
  return { type, body: readFileSync(new URL(`./web/${file}`, import.meta.url)) };
}

// PORTAL_*_URL, read when the module loads: a bad one stops the start (ConfigError).
const config = loadPortalConfig();
const csp = contentSecurityPolicy(config);
const ASSETS: Record<string, Asset> = {
  '/': asset('index.html', 'text/html; charset=utf-8'),
  '/app.js': asset('app.js', 'text/javascript; charset=utf-8'),
  '/app.css': asset('app.css', 'text/css; charset=utf-8'),
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
