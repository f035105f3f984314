// portal: the web page of the credential service (sign in, create an account, accept an
// invitation, renew expired credentials). It serves one HTML page, its script and style
// sheet, the QR decoder the page reads the password QR code with (jsqr), and a small JSON
// configuration naming where the JSON functions answer and what the page tells people
// (the username rule of openapi.yaml, the enrollment window); the browser calls those
// functions directly. No database, no third-party origin.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { http } from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { loadPortalConfig } from '../../lib/config.js';
import type { PortalConfig, PortalUrls } from '../../lib/config.js';
import { describeError, log as rootLog } from '../../lib/log.js';

/** The username rule the page checks before sending: openapi.yaml's Username pattern, split into its character class and length. */
export interface UsernameRule {
  pattern: string;
  characters: string;
  maxLength: number;
}

/** What config.json tells the page: the URLs, and the facts its sentences need. */
export interface PageConfig extends PortalUrls {
  username: UsernameRule;
  /** ENROLLMENT_TTL in words ("15 minutes"): how long a setup started and lost keeps its name. */
  enrollmentWindow: string;
  /** SELF_REGISTRATION: whether anyone may create an account without an invitation. */
  selfRegistration: boolean;
}

/** The Username schema of openapi.yaml, read from the document the build copies beside the page (web/openapi.json, not served). */
export function usernameRule(document: Record<string, unknown>): UsernameRule {
  const schemas = (document.components as { schemas?: Record<string, { pattern?: unknown }> } | undefined)?.schemas;
  const pattern = schemas?.Username?.pattern;
  // The page explains a refusal by the characters and the length, so the pattern must keep this shape.
  const parts = typeof pattern === 'string' ? /^\^(\[.+\])\{1,(\d+)\}\$$/.exec(pattern) : null;
  if (typeof pattern !== 'string' || parts === null)
    throw new Error(`openapi.yaml's Username pattern is not of the form ^[…]{1,N}$: ${String(pattern)}`);
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
    for (const [, count, unit = ''] of interval.matchAll(/(\d+)\s*([a-z]+)/gi)) {
      const word = UNIT_WORDS.find(([shape]) => shape.test(unit))?.[1] ?? unit;
      pairs.push([Number(count), word]);
    }
  }
  return pairs.map(([count, unit]) => `${count} ${unit}${count === 1 ? '' : 's'}`).join(' ');
}

export function pageConfig(settings: PortalConfig, document: Record<string, unknown>): PageConfig {
  return {
    ...settings.urls,
    username: usernameRule(document),
    enrollmentWindow: intervalInWords(settings.enrollmentTtl),
    selfRegistration: settings.selfRegistration,
  };
}

/** The Content-Security-Policy: our own script and style only; connections to us and the configured functions. */
export function contentSecurityPolicy(urls: PortalUrls): string {
  const origins = new Set<string>();
  for (const value of Object.values(urls)) {
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
 * Reads the portal's settings (lib/config.ts: PORTAL_*_URL, ENROLLMENT_TTL,
 * SELF_REGISTRATION) and the page's files, once. The server calls it before it listens, so
 * that a bad setting stops the start with one line (bin/serve-portal.ts); importing the
 * module reads nothing.
 */
export function preparePortal(): Prepared {
  if (prepared !== undefined) return prepared;
  const settings = loadPortalConfig();
  prepared = {
    assets: {
      '/': asset('index.html', 'text/html; charset=utf-8'),
      '/app.js': asset('app.js', 'text/javascript; charset=utf-8'),
      '/app.css': asset('app.css', 'text/css; charset=utf-8'),
      // jsqr, the QR decoder the page reads the password QR code with, served from our own
      // origin (script-src 'self'); the build copies its browser build beside the page.
      '/jsqr.js': asset('jsqr.js', 'text/javascript; charset=utf-8'),
      '/config.json': {
        type: 'application/json; charset=utf-8',
        body: Buffer.from(
          JSON.stringify(
            pageConfig(
              settings,
              JSON.parse(asset('openapi.json', '').body.toString('utf8')) as Record<string, unknown>,
            ),
          ),
        ),
      },
    },
    headers: { ...SECURITY_HEADERS, 'Content-Security-Policy': contentSecurityPolicy(settings.urls) },
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
      res
        .status(405)
        .set('Allow', 'GET')
        .json({ error: `Method ${req.method} is not allowed; use GET.`, code: 'method_not_allowed' });
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
