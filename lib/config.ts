// Configuration: environment variables and secret files, read and checked once at start.
// Every problem is a ConfigError whose message names the variable or file, so the process
// can stop with one clear line instead of failing later on a request.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseEnginePreference } from './crypto/bcrypt-engine.js';
import type { BcryptEnginePreference } from './crypto/bcrypt-engine.js';
import { DEFAULT_STATEMENT_TIMEOUT_MS } from './db/statement-timeout.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type DatabaseTarget =
  { kind: 'postgres'; connection: PostgresConnection; poolMax: number } | { kind: 'embedded'; dataDir: string };

export type PostgresConnection =
  { connectionString: string } | { host: string; port: number; database: string; user: string; password: string };

export interface Config {
  port: number;
  database: DatabaseTarget;
  /** PostgreSQL's bound on one statement, in ms (PG_STATEMENT_TIMEOUT_MS; lib/db/statement-timeout.ts). */
  statementTimeoutMs: number;
  secretsDir: string;
  /** Fernet keys, url-safe base64; the first encrypts, all decrypt. */
  encryptionKeys: string[];
  bcryptCost: number;
  /** PostgreSQL interval strings, passed to SQL as `$n::interval`. */
  credentialMaxAge: string;
  enrollmentTtl: string;
  renewalTtl: string;
  invitationTtl: string;
  /** How long a helpdesk reset token is valid (contract §7). */
  resetTtl: string;
  /** How long before expiry a sign-in offers a renewal token (contract §6). */
  renewalWindow: string;
  totpIssuer: string;
  selfRegistration: boolean;
  corsAllowedOrigins: string[];
  bcryptThreads: number;
  /** `auto` (native, bcryptjs where it cannot load), `native` or `bcryptjs`. */
  bcryptEngine: BcryptEnginePreference;
  /** Seconds of queued bcrypt work beyond which a new request is answered 503 (contract §6). */
  bcryptQueueSeconds: number;
  /**
   * Proxies in front of the process that each append the address they received the request
   * from to X-Forwarded-For (contract §6): 0 trusts only the TCP peer.
   */
  trustedProxyHops: number;
  /** How long a request body may take to arrive after the headers (contract §2: 10 s). */
  requestBodyTimeoutMs: number;
  /** How employee-events verifies the broker's token (§7); undefined: not configured. */
  eventsOidc: EventsOidcConfig | undefined;
  /** CloudEvent `source` values employee-events accepts; undefined: not configured. */
  hrEventSources: string[] | undefined;
  /** K_SINK: where identity events are sent; undefined keeps them in the outbox (development). */
  sink: string | undefined;
  /**
   * SINK_OIDC_TOKEN_FILE: the sender's OIDC token for the sink (the SinkBinding's
   * /oidc/token), read at each send and sent as `Authorization: Bearer`; undefined, or no
   * such file: no header.
   */
  sinkTokenFile: string | undefined;
  /** When before expiry a credentials.expiring reminder is published (contract §11). */
  expiryReminders: string[];
  /** How long audit records are kept (contract §12). */
  auditRetention: string;
}

/** Knative Eventing's OIDC sender authentication, as the receiving function checks it. */
export interface EventsOidcConfig {
  issuer: string;
  /** This function's own audience (the Trigger's `subscriber.audience`). */
  audience: string;
  jwksUrl: string;
  /** The broker's identities (`system:serviceaccount:<ns>:<name>`); undefined: any subject (development only). */
  subjects: string[] | undefined;
  /** A bearer token for the JWKS request (the pod's service-account token for the API server), re-read at each fetch. */
  jwksTokenFile: string | undefined;
  /** The least time between two JWKS fetches caused by an unknown key id. */
  jwksCooldownSeconds: number;
}

export const SECRET_FILES = {
  dbUser: 'db-credentials-username',
  dbPassword: 'db-credentials-password',
  encryptionKey: 'encryption-key',
} as const;

const DEFAULT_SECRETS_DIR = '/var/run/secrets/cofrap';
const DEFAULT_DATA_DIR = '.data';

type Env = Record<string, string | undefined>;

function readVar(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw))
    throw new ConfigError(`${name} must be a whole number between ${min} and ${max}, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = readVar(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

// The accepted forms are the ones PostgreSQL reads as an interval and an operator would
// write: "6 months", "15 min", "7 days 12 hours", or ISO 8601 ("P6M", "PT15M"). The
// database has the last word; this catches typos before the first request.
const INTERVAL_UNIT = '(?:years?|y|mons?|months?|weeks?|w|days?|d|hours?|h|minutes?|mins?|m|seconds?|secs?|s)';
const VERBOSE_INTERVAL = new RegExp(`^(?:\\d+\\s*${INTERVAL_UNIT}\\s*)+$`, 'i');
const ISO_INTERVAL = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;

function intervalVar(env: Env, name: string, fallback: string): string {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  if (!VERBOSE_INTERVAL.test(raw) && !ISO_INTERVAL.test(raw)) {
    throw new ConfigError(`${name} must be a PostgreSQL interval such as "6 months" or "15 minutes", got "${raw}"`);
  }
  return raw;
}

function readSecretFile(dir: string, file: string, required: true): string;
function readSecretFile(dir: string, file: string, required: false): string | undefined;
function readSecretFile(dir: string, file: string, required: boolean): string | undefined {
  const full = path.join(dir, file);
  if (!existsSync(full)) {
    if (required) throw new ConfigError(`secret file ${full} is missing (set SECRETS_DIR or mount the secret)`);
    return undefined;
  }
  try {
    return readFileSync(full, 'utf8');
  } catch {
    throw new ConfigError(`secret file ${full} cannot be read`);
  }
}

const FERNET_KEY = /^[A-Za-z0-9_-]{43}=$/;

export function parseEncryptionKeys(text: string, source: string): string[] {
  const keys = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (keys.length === 0) throw new ConfigError(`${source} holds no Fernet key`);
  keys.forEach((key, index) => {
    if (!FERNET_KEY.test(key) || Buffer.from(key, 'base64url').length !== 32) {
      throw new ConfigError(`${source} line ${index + 1} is not a Fernet key (32 bytes, url-safe base64)`);
    }
  });
  return keys;
}

export function newFernetKey(): string {
  return randomBytes(32).toString('base64url') + '=';
}

/** Embedded mode generates its development secrets once, under the data directory. */
function ensureDevelopmentSecrets(dir: string): void {
  const keyFile = path.join(dir, SECRET_FILES.encryptionKey);
  if (existsSync(keyFile)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, newFernetKey() + '\n', { mode: 0o600 });
}

function parseOrigins(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '')
    .map((origin) => {
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        throw new ConfigError(
          `CORS_ALLOWED_ORIGINS holds "${origin}", which is not an origin such as https://portal.example.com`,
        );
      }
      if (url.origin !== origin.replace(/\/$/, '')) {
        throw new ConfigError(`CORS_ALLOWED_ORIGINS holds "${origin}"; give scheme, host and port only`);
      }
      return url.origin;
    });
}

function engineVar(env: Env): BcryptEnginePreference {
  const raw = readVar(env, 'BCRYPT_ENGINE');
  const preference = parseEnginePreference(raw);
  if (preference === undefined)
    throw new ConfigError(`BCRYPT_ENGINE must be auto, native or bcryptjs, got "${raw ?? ''}"`);
  return preference;
}

/** BCRYPT_THREADS and BCRYPT_ENGINE, as loadConfig reads them (for a thread started before it runs). */
export function hasherSettings(env: Env = process.env): Pick<Config, 'bcryptThreads' | 'bcryptEngine'> {
  return { bcryptThreads: intVar(env, 'BCRYPT_THREADS', 0, 0, 64), bcryptEngine: engineVar(env) };
}

function listVar(env: Env, name: string, what: string): string[] | undefined {
  const raw = readVar(env, name);
  if (raw === undefined) return undefined;
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item === ''))
    throw new ConfigError(`${name} holds an empty entry; give comma-separated ${what}`);
  const tooLong = items.find((item) => [...item].length > 256);
  if (tooLong !== undefined) throw new ConfigError(`${name} holds an entry longer than 256 characters`);
  return items;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * A URL setting that must parse and pass `allowed`, else one line saying `rule` (or, for
 * text that is no URL at all, `unparsable` when given).
 */
function urlVar(
  env: Env,
  name: string,
  allowed: (url: URL) => boolean,
  rule: string,
  unparsable = `must be ${rule}`,
): string | undefined {
  const raw = readVar(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} ${unparsable}, got "${raw}"`);
  }
  if (!allowed(url)) throw new ConfigError(`${name} must be ${rule}, got "${raw}"`);
  return url.href;
}

// Keys fetched over plain HTTP could be swapped by anyone on the path, and with them
// every token accepted; plain HTTP is for a JWKS on this machine (development, tests).
const jwksUrlVar = (env: Env): string | undefined =>
  urlVar(
    env,
    'EVENTS_OIDC_JWKS_URL',
    (url) => url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)),
    'an https:// URL (http:// only on localhost)',
    'is not a URL',
  );

const OIDC_REQUIRED = ['EVENTS_OIDC_ISSUER', 'EVENTS_OIDC_AUDIENCE', 'EVENTS_OIDC_JWKS_URL'] as const;
const OIDC_OPTIONAL = [
  'EVENTS_OIDC_SUBJECTS',
  'EVENTS_OIDC_JWKS_TOKEN_FILE',
  'EVENTS_OIDC_JWKS_COOLDOWN_SECONDS',
] as const;

/** All three of issuer, audience and JWKS URL, or none (and then none of the others either). */
function eventsOidcVars(env: Env): EventsOidcConfig | undefined {
  const jwksUrl = jwksUrlVar(env);
  const given = {
    EVENTS_OIDC_ISSUER: readVar(env, 'EVENTS_OIDC_ISSUER'),
    EVENTS_OIDC_AUDIENCE: readVar(env, 'EVENTS_OIDC_AUDIENCE'),
    EVENTS_OIDC_JWKS_URL: jwksUrl,
  };
  const present = OIDC_REQUIRED.filter((name) => given[name] !== undefined);
  if (present.length === 0) {
    const stray = OIDC_OPTIONAL.find((name) => readVar(env, name) !== undefined);
    if (stray !== undefined)
      throw new ConfigError(
        `${stray} is set but EVENTS_OIDC_ISSUER, EVENTS_OIDC_AUDIENCE and EVENTS_OIDC_JWKS_URL are not`,
      );
    return undefined;
  }
  const missing = OIDC_REQUIRED.find((name) => given[name] === undefined);
  if (missing !== undefined) throw new ConfigError(`${missing} must be set together with ${present.join(' and ')}`);
  const jwksTokenFile = readVar(env, 'EVENTS_OIDC_JWKS_TOKEN_FILE');
  // Checked now so a missing mount stops the start, not the first event; read again at
  // each fetch, because the kubelet replaces a projected token before it expires.
  if (jwksTokenFile !== undefined) {
    try {
      readFileSync(jwksTokenFile, 'utf8');
    } catch {
      throw new ConfigError(`EVENTS_OIDC_JWKS_TOKEN_FILE names ${jwksTokenFile}, which cannot be read`);
    }
  }
  return {
    issuer: given.EVENTS_OIDC_ISSUER as string,
    audience: given.EVENTS_OIDC_AUDIENCE as string,
    jwksUrl: jwksUrl as string,
    subjects: listVar(env, 'EVENTS_OIDC_SUBJECTS', 'subjects such as system:serviceaccount:<namespace>:<name>'),
    jwksTokenFile,
    jwksCooldownSeconds: intVar(env, 'EVENTS_OIDC_JWKS_COOLDOWN_SECONDS', 30, 0, 3600),
  };
}

/**
 * The rule of §7: employee-events accepts unauthenticated events, from any source, only in
 * the embedded development mode. Served against a PostgreSQL server, it needs the whole
 * sender check; the processes that serve it call this at start.
 */
export function requireEventSenderChecks(
  config: Config,
  served: 'employee-events' | 'housekeeping' = 'employee-events',
): void {
  if (config.database.kind === 'embedded') return;
  const why = `to serve ${served} on a PostgreSQL server (only the embedded development mode accepts unauthenticated events)`;
  if (config.eventsOidc === undefined)
    throw new ConfigError(`EVENTS_OIDC_ISSUER, EVENTS_OIDC_AUDIENCE and EVENTS_OIDC_JWKS_URL must be set ${why}`);
  if (config.eventsOidc.subjects === undefined) throw new ConfigError(`EVENTS_OIDC_SUBJECTS must be set ${why}`);
  // housekeeping receives the PingSource's events, which need no HR source.
  if (served === 'employee-events' && config.hrEventSources === undefined)
    throw new ConfigError(`HR_EVENT_SOURCES must be set ${why}`);
}

/** The URLs the portal's page calls (PORTAL_*_URL); by default the portal's own origin, as in the dev server. */
export type PortalUrls = Record<'generatePassword' | 'generate2fa' | 'authenticate', string>;

/** The portal's settings: it needs no database or secret, so it reads only these (and PORT). */
export interface PortalConfig {
  urls: PortalUrls;
  /** ENROLLMENT_TTL, which the page tells in words: how long a setup started and lost keeps its name. */
  enrollmentTtl: string;
  /** SELF_REGISTRATION: whether the page offers to create an account without an invitation. */
  selfRegistration: boolean;
}

/**
 * A URL the portal's page calls: an absolute http(s) URL (the function's own Knative
 * route), or a path on the portal's origin. Kept as given: the page resolves it.
 */
function portalUrlVar(env: Env, name: string, fallback: string): string {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  let url: URL;
  try {
    url = new URL(raw, 'http://same-origin.invalid');
  } catch {
    throw new ConfigError(`${name} must be a URL such as https://authenticate.cofrap.example.com/, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  return raw;
}

export function loadPortalConfig(env: Env = process.env): PortalConfig {
  return {
    urls: {
      generatePassword: portalUrlVar(env, 'PORTAL_GENERATE_PASSWORD_URL', '/generate-password'),
      generate2fa: portalUrlVar(env, 'PORTAL_GENERATE_2FA_URL', '/generate-2fa'),
      authenticate: portalUrlVar(env, 'PORTAL_AUTHENTICATE_URL', '/authenticate'),
    },
    enrollmentTtl: enrollmentTtlVar(env),
    selfRegistration: selfRegistrationVar(env),
  };
}

// Read by the functions and by the portal, whose page tells them to people.
const enrollmentTtlVar = (env: Env): string => intervalVar(env, 'ENROLLMENT_TTL', '15 minutes');
const selfRegistrationVar = (env: Env): boolean => boolVar(env, 'SELF_REGISTRATION', true);

/** PORT alone: what a process that needs no database or secret (the portal) reads. */
export function loadPort(env: Env = process.env): number {
  return intVar(env, 'PORT', 8080, 0, 65535);
}

export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = readVar(env, 'DATABASE_URL');
  const postgresHost = readVar(env, 'POSTGRES_HOST');
  const embedded = databaseUrl === undefined && postgresHost === undefined;
  if (embedded && readVar(env, 'K_SERVICE') !== undefined) {
    throw new ConfigError(
      'DATABASE_URL or POSTGRES_HOST must be set on Knative (K_SERVICE is set); the embedded database is for development only',
    );
  }

  const dataDir = path.resolve(readVar(env, 'PGLITE_DATA_DIR') ?? path.join(DEFAULT_DATA_DIR, 'pglite'));
  const explicitSecretsDir = readVar(env, 'SECRETS_DIR');
  const secretsDir = path.resolve(
    explicitSecretsDir ?? (embedded ? path.join(DEFAULT_DATA_DIR, 'secrets') : DEFAULT_SECRETS_DIR),
  );
  if (embedded && explicitSecretsDir === undefined) ensureDevelopmentSecrets(secretsDir);

  const encryptionKeys = parseEncryptionKeys(
    readSecretFile(secretsDir, SECRET_FILES.encryptionKey, true),
    path.join(secretsDir, SECRET_FILES.encryptionKey),
  );

  const poolMax = intVar(env, 'PG_POOL_MAX', 10, 1, 100);
  let database: DatabaseTarget;
  if (embedded) {
    database = { kind: 'embedded', dataDir };
  } else if (databaseUrl !== undefined) {
    try {
      new URL(databaseUrl);
    } catch {
      throw new ConfigError('DATABASE_URL is not a valid connection URL (postgresql://user:password@host:5432/db)');
    }
    database = { kind: 'postgres', connection: { connectionString: databaseUrl }, poolMax };
  } else {
    database = {
      kind: 'postgres',
      connection: {
        host: postgresHost as string,
        port: intVar(env, 'POSTGRES_PORT', 5432, 1, 65535),
        database: readVar(env, 'POSTGRES_DB') ?? 'cofrap_db',
        user: readSecretFile(secretsDir, SECRET_FILES.dbUser, true).trim(),
        password: (readSecretFile(secretsDir, SECRET_FILES.dbPassword, false) ?? '').trim(),
      },
      poolMax,
    };
  }

  return {
    port: loadPort(env),
    database,
    statementTimeoutMs: intVar(env, 'PG_STATEMENT_TIMEOUT_MS', DEFAULT_STATEMENT_TIMEOUT_MS, 100, 600_000),
    secretsDir,
    encryptionKeys,
    bcryptCost: intVar(env, 'BCRYPT_COST', 12, 10, 15),
    credentialMaxAge: intervalVar(env, 'CREDENTIAL_MAX_AGE', '6 months'),
    enrollmentTtl: enrollmentTtlVar(env),
    renewalTtl: intervalVar(env, 'RENEWAL_TTL', '15 minutes'),
    invitationTtl: intervalVar(env, 'INVITATION_TTL', '7 days'),
    resetTtl: intervalVar(env, 'RESET_TTL', '24 hours'),
    renewalWindow: intervalVar(env, 'RENEWAL_WINDOW', '30 days'),
    totpIssuer: readVar(env, 'TOTP_ISSUER') ?? 'COFRAP Secure',
    selfRegistration: selfRegistrationVar(env),
    corsAllowedOrigins: parseOrigins(readVar(env, 'CORS_ALLOWED_ORIGINS')),
    ...hasherSettings(env),
    bcryptQueueSeconds: intVar(env, 'BCRYPT_QUEUE_SECONDS', 10, 1, 300),
    trustedProxyHops: intVar(env, 'TRUSTED_PROXY_HOPS', 0, 0, 16),
    // A test knob: the contract's 10 s, lowered by the tests that stall a body on purpose.
    requestBodyTimeoutMs: intVar(env, 'REQUEST_BODY_TIMEOUT_MS', 10_000, 100, 300_000),
    eventsOidc: eventsOidcVars(env),
    hrEventSources: listVar(env, 'HR_EVENT_SOURCES', 'CloudEvent source values'),
    sink: sinkVar(env),
    sinkTokenFile: sinkTokenFileVar(env),
    expiryReminders: intervalListVar(env, 'EXPIRY_REMINDERS', ['30 days', '7 days', '1 day']),
    auditRetention: intervalVar(env, 'AUDIT_RETENTION', '400 days'),
  };
}

/** A comma-separated list of PostgreSQL intervals. */
function intervalListVar(env: Env, name: string, fallback: string[]): string[] {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0)
    throw new ConfigError(`${name} must list at least one interval, such as "30 days,7 days,1 day"`);
  return items.map((item, i) => intervalVar({ [`${name}[${i}]`]: item }, `${name}[${i}]`, item));
}

/** K_SINK, set by a Knative SinkBinding: where identity events go (contract §11). */
const sinkVar = (env: Env): string | undefined =>
  urlVar(env, 'K_SINK', (url) => url.protocol === 'http:' || url.protocol === 'https:', 'an http(s) URL');

/**
 * SINK_OIDC_TOKEN_FILE: an absolute path. Not read here: Knative Eventing mounts it only
 * while its sender identity is on, and renews it in place, so lib/outbox.ts reads it at
 * each send and sends no header while it is missing.
 */
function sinkTokenFileVar(env: Env): string | undefined {
  const raw = readVar(env, 'SINK_OIDC_TOKEN_FILE');
  if (raw === undefined) return undefined;
  if (!path.isAbsolute(raw)) throw new ConfigError(`SINK_OIDC_TOKEN_FILE must be an absolute path, got "${raw}"`);
  return raw;
}

/** The migration's own owner role (contract §8): read by the migration command only. */
export const ADMIN_SECRET_FILES = {
  dbUser: 'db-admin-username',
  dbPassword: 'db-admin-password',
} as const;

export interface MigrationConfig extends Config {
  /**
   * The role the functions connect as, when the migration connects as the owner role of
   * `db-admin-username`: the migration command grants it what the functions need, and no
   * more. Undefined without those files (or on the embedded database): the migration then
   * runs as the functions' own role, as in development.
   */
  functionsRole: string | undefined;
}

/**
 * The configuration of `npm run migrate`: the functions' configuration, with the database
 * reached as the owner role when `db-admin-username` / `db-admin-password` are in
 * SECRETS_DIR. The functions themselves never read those files.
 */
export function loadMigrationConfig(env: Env = process.env): MigrationConfig {
  const config = loadConfig(env);
  if (config.database.kind !== 'postgres') return { ...config, functionsRole: undefined };
  const dir = config.secretsDir;
  const adminUser = readSecretFile(dir, ADMIN_SECRET_FILES.dbUser, false)?.trim();
  const adminPassword = readSecretFile(dir, ADMIN_SECRET_FILES.dbPassword, false)?.trim();
  if (adminUser === undefined) {
    if (adminPassword !== undefined)
      throw new ConfigError(
        `secret file ${path.join(dir, ADMIN_SECRET_FILES.dbPassword)} is there but ${path.join(dir, ADMIN_SECRET_FILES.dbUser)} is missing`,
      );
    return { ...config, functionsRole: undefined };
  }
  if (adminUser === '') throw new ConfigError(`secret file ${path.join(dir, ADMIN_SECRET_FILES.dbUser)} is empty`);

  const connection = config.database.connection;
  let functionsRole: string;
  let adminConnection: PostgresConnection;
  if ('connectionString' in connection) {
    const url = new URL(connection.connectionString);
    functionsRole = decodeURIComponent(url.username);
    if (functionsRole === '')
      throw new ConfigError(
        "DATABASE_URL names no user: with db-admin-username the migration needs the functions' role from it, to grant it its privileges",
      );
    url.username = encodeURIComponent(adminUser);
    url.password = encodeURIComponent(adminPassword ?? '');
    adminConnection = { connectionString: url.href };
  } else {
    functionsRole = connection.user;
    adminConnection = { ...connection, user: adminUser, password: adminPassword ?? '' };
  }
  if (functionsRole === adminUser) {
    throw new ConfigError(
      `${ADMIN_SECRET_FILES.dbUser} names the functions' own role ${functionsRole}: give the owner role, or leave out ${ADMIN_SECRET_FILES.dbUser} and ${ADMIN_SECRET_FILES.dbPassword}`,
    );
  }
  return { ...config, database: { ...config.database, connection: adminConnection }, functionsRole };
}
