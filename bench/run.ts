// npm run bench: our functions and the seed, side by side, in one run on one PostgreSQL.
//
// Ours: the compiled development server (every function in one process) on a scratch
// database of the PostgreSQL server (127.0.0.1:5432, or the server of DATABASE_URL),
// created, migrated and dropped by this run. The seed: ../shared/seed/python/watchdog.py
// (one Python process per request) on the database its handlers hard-code, cofrap_db, with
// its own table from schema.sql. The load comes from a separate process (bench/load.ts).
// Prints one table and writes it as JSON under bench/results/. See bench/README.md.
import { skeletonOf } from '../lib/usernames.js';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { newFernetKey } from '../lib/config.js';
import { loadBcryptEngine } from '../lib/crypto/bcrypt-engine.js';
import type { BcryptEngineName } from '../lib/crypto/bcrypt-engine.js';
import { PasswordHasher } from '../lib/crypto/bcrypt.js';
import { createAccount, createAndEnroll, signIn } from '../test/helpers/journey.js';
import { currentStep } from '../test/helpers/totp.js';
import { until } from '../test/helpers/time.js';
import { makeSecretsDir } from '../test/helpers/backends.js';
import { startProcess } from '../test/helpers/process.js';
import type { LatencySummary, LoadResult, LoadSpec, Scenario } from './load.js';
import { auditOverheadPhase } from './audit-overhead.js';
import { embeddedPhase } from './embedded.js';
import { housekeepingPhase } from './housekeeping.js';
import { recoveryPhase } from './recovery.js';
import { freePort, median, round } from './phase.js';
import type { PhaseReport } from './phase.js';
import { scalePhase, SCALE_PROCESSES } from './scale.js';
import { loadComparePhase } from './load-compare.js';
import { coldStartLines, coldStartTargets, measureColdStarts } from './cold-start.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEED_DIR = path.resolve(ROOT, '../shared/seed/python');
const SEED_SECRETS = '/var/openfaas/secrets';
const SEED_DATABASE = 'cofrap_db';
const COST = 12;

// ---------------------------------------------------------------- settings

function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number of seconds, got "${raw}"`);
  return value;
}

const QUICK = process.argv.includes('--quick');
const SETTINGS = {
  /** Each latency/throughput run at 1 and 16 clients. */
  durationS: seconds('BENCH_DURATION', QUICK ? 3 : 10),
  /** Answers before this are not counted (JIT, pool connections, worker threads). */
  warmupS: seconds('BENCH_WARMUP', QUICK ? 1 : 3),
  /** authenticate under 50 clients. */
  stressS: seconds('BENCH_STRESS_DURATION', QUICK ? 5 : 20),
  coldStarts: Math.round(seconds('BENCH_COLD_STARTS', QUICK ? 3 : 10)),
  floorSamples: Math.round(seconds('BENCH_FLOOR_SAMPLES', QUICK ? 3 : 7)),
  requestTimeoutS: 30,
  concurrencies: [1, 16] as const,
  stressClients: 50,
  skipSeed: process.argv.includes('--no-seed'),
  /** --only=generate-2fa,authenticate,stress,cold,recovery,housekeeping,audit-overhead,scale,embedded: a part of the run, for development; --only=load-compare: load.ts against autocannon, never in the full run. */
  only:
    process.argv
      .find((arg) => arg.startsWith('--only='))
      ?.slice('--only='.length)
      .split(',') ?? [],
};
const wanted = (part: string): boolean => SETTINGS.only.length === 0 || SETTINGS.only.includes(part);

// ---------------------------------------------------------------- small helpers

const say = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

function loadAverage(): [number, number, number] {
  const [one, five, fifteen] = os.loadavg();
  return [round(one ?? 0, 2), round(five ?? 0, 2), round(fifteen ?? 0, 2)];
}

interface Reply {
  status: number;
  text: string;
}

function request(method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs = 30_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(url, {
      method,
      agent: false,
      headers:
        payload === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end(payload);
  });
}

/** Polls `url` until it answers `status`; the time from `since` to that answer, in ms. */
async function waitFor(
  url: string,
  child: ChildProcess,
  since: number,
  timeoutMs: number,
  method: 'GET' | 'POST' = 'GET',
  status = 200,
): Promise<number> {
  await until(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${url}: the process exited (${child.exitCode ?? child.signalCode}) before answering`);
      try {
        return (await request(method, url, method === 'POST' ? {} : undefined, 2000)).status === status;
      } catch {
        return false; // not listening yet
      }
    },
    `${url} did not answer ${status} within ${timeoutMs} ms`,
    { everyMs: 5, limitMs: Math.max(0, since + timeoutMs - performance.now()) },
  );
  return performance.now() - since;
}

function stop(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The environment a server of ours gets: ours only, never the caller's database settings. */
function serverEnv(extra: Record<string, string>): Record<string, string> {
  return { ...ambientEnv(), ...configuredEnv(extra) };
}

/** This shell's environment without any of the service's own settings. */
function ambientEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value !== undefined &&
      !/^(DATABASE_URL|POSTGRES_|SECRETS_DIR|PGLITE_DATA_DIR|BCRYPT_COST|BCRYPT_THREADS|PG_POOL_MAX|PG_STATEMENT_TIMEOUT_MS|CREDENTIAL_|ENROLLMENT_|RENEWAL_|INVITATION_|TOTP_|SELF_REGISTRATION|CORS_|K_SERVICE|FUNCTION_TARGET|PORT$|LOG_LEVEL|NODE_OPTIONS|EVENTS_OIDC_|HR_EVENT_SOURCES|K_SINK|TRUSTED_PROXY_HOPS)/.test(
        key,
      )
    )
      env[key] = value;
  }
  return env;
}

/** The service's settings of a bench server, and nothing of this shell's environment. */
function configuredEnv(extra: Record<string, string>): Record<string, string> {
  return { BCRYPT_COST: String(COST), ...BENCH_EVENT_SENDERS, ...extra };
}

/**
 * On PostgreSQL a server that serves employee-events and housekeeping starts only with its
 * sender checks set (contract §7). The bench sends them no event: settings that name a
 * key server nobody runs are enough, and would refuse any event that came.
 */
const BENCH_EVENT_SENDERS = {
  EVENTS_OIDC_ISSUER: 'https://bench.invalid',
  EVENTS_OIDC_AUDIENCE: 'bench',
  EVENTS_OIDC_JWKS_URL: 'http://127.0.0.1:9/openid/v1/jwks',
  EVENTS_OIDC_SUBJECTS: 'system:serviceaccount:bench:nobody',
  HR_EVENT_SOURCES: '/bench',
};

// ---------------------------------------------------------------- the database

interface Databases {
  adminUrl: string;
  ours: { name: string; url: string };
  close(): Promise<void>;
}

function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query<pg.QueryResultRow>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function openDatabases(): Promise<Databases> {
  const server = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const adminUrl = databaseUrl(server, 'postgres');
  try {
    await adminQuery(adminUrl, 'SELECT 1');
  } catch (error) {
    throw new Error(
      `no PostgreSQL server answers at ${new URL(adminUrl).host} (${error instanceof Error ? error.message : String(error)}); start one or set DATABASE_URL`,
      { cause: error },
    );
  }
  const name = `cofrap_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const ours = { name, url: databaseUrl(server, name) };
  return {
    adminUrl,
    ours,
    async close() {
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

function runMigrations(env: Record<string, string>): void {
  const result = spawnSync(process.execPath, ['dist/bin/migrate.js'], {
    cwd: ROOT,
    env: serverEnv(env),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0) throw new Error(`migrate failed:\n${result.stdout}${result.stderr}`);
}

// ---------------------------------------------------------------- the seed

interface Seed {
  url: (name: string) => string;
  prefix: string;
  child: ChildProcess;
  note: string;
  close(): Promise<void>;
}

const PYTHON_MODULES = [
  ['bcrypt', 'python3-bcrypt'],
  ['pyotp', 'python3-pyotp'],
  ['qrcode', 'python3-qrcode'],
  ['PIL', 'python3-pil'],
  ['psycopg2', 'python3-psycopg2'],
  ['cryptography', 'python3-cryptography'],
] as const;

/** Why the seed cannot run here, or undefined when it can. */
function seedMissing(): string | undefined {
  if (!existsSync(path.join(SEED_DIR, 'watchdog.py')))
    return `${SEED_DIR}/watchdog.py is not there (the seed lives in ../shared/seed)`;
  // The watchdog runs every handler with /usr/bin/python3.
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 is not installed (Debian: python3)';
  const probe = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      `import importlib.util as u; print(" ".join(m for m in ${JSON.stringify(PYTHON_MODULES.map(([module]) => module))} if u.find_spec(m) is None))`,
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  if (probe.status !== 0) return `/usr/bin/python3 failed: ${probe.stderr.trim()}`;
  const missing = probe.stdout
    .trim()
    .split(/\s+/)
    .filter((module) => module !== '');
  if (missing.length > 0) {
    const packages = PYTHON_MODULES.filter(([module]) => missing.includes(module)).map(([, pkg]) => pkg);
    return `Python modules missing: ${missing.join(', ')} (Debian: apt-get install ${packages.join(' ')})`;
  }
  return undefined;
}

/**
 * The seed's handlers read /var/openfaas/secrets and connect to database cofrap_db on port
 * 5432 of POSTGRES_HOST: both are fixed in its code. This run creates what is missing (and
 * removes it afterwards); what exists already is used as it is, and only the rows of this
 * run (usernames with its prefix) are deleted from an existing cofrap_db.
 */
async function startSeed(databases: Databases): Promise<Seed | string> {
  const missing = seedMissing();
  if (missing !== undefined) return missing;
  const server = new URL(databases.adminUrl);
  if (server.port !== '' && server.port !== '5432')
    return `the seed connects to port 5432 only, and the database server is on port ${server.port}`;

  const created: string[] = [];
  const secretsExisted = existsSync(SEED_SECRETS);
  if (!secretsExisted) {
    try {
      mkdirSync(SEED_SECRETS, { recursive: true, mode: 0o700 });
    } catch {
      return `${SEED_SECRETS} is missing and cannot be created (the seed's handlers read their secrets there; run as root, or create it as in ../shared/seed/README.md)`;
    }
    writeFileSync(
      path.join(SEED_SECRETS, 'db-credentials-username'),
      decodeURIComponent(server.username || 'postgres'),
    );
    writeFileSync(path.join(SEED_SECRETS, 'db-credentials-password'), decodeURIComponent(server.password));
    writeFileSync(path.join(SEED_SECRETS, 'encryption-key'), newFernetKey() + '\n');
    created.push(`${SEED_SECRETS} (removed afterwards)`);
  } else {
    for (const file of ['db-credentials-username', 'db-credentials-password', 'encryption-key']) {
      if (!existsSync(path.join(SEED_SECRETS, file)))
        return `${SEED_SECRETS}/${file} is missing (the directory exists, so this run leaves it alone)`;
    }
  }

  const seedDbUrl = databaseUrl(databases.adminUrl, SEED_DATABASE);
  const exists =
    (await adminQuery(databases.adminUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [SEED_DATABASE])).length ===
    1;
  if (!exists) {
    await adminQuery(databases.adminUrl, `CREATE DATABASE ${SEED_DATABASE}`);
    created.push(`database ${SEED_DATABASE} (dropped afterwards)`);
  }
  await adminQuery(seedDbUrl, readFileSync(path.join(SEED_DIR, 'schema.sql'), 'utf8'));

  const port = await freePort();
  const child = spawn('/usr/bin/python3', ['watchdog.py', String(port)], {
    cwd: SEED_DIR,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', POSTGRES_HOST: server.hostname || '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const base = `http://127.0.0.1:${port}/function`;
  try {
    // An unknown function answers 404 as soon as the watchdog listens.
    await waitFor(`${base}/none`, child, performance.now(), 10_000, 'POST', 404);
  } catch (error) {
    await stop(child);
    return `the seed's watchdog did not start: ${error instanceof Error ? error.message : String(error)} ${stderr}`;
  }
  const prefix = `bench${process.pid}`;
  return {
    url: (name) => `${base}/${name}`,
    prefix,
    child,
    note: `watchdog.py on 127.0.0.1:${port}, database ${SEED_DATABASE}${exists ? ' (existing; rows of this run deleted afterwards)' : ' (created for this run)'}, secrets ${SEED_SECRETS}${secretsExisted ? ' (existing)' : ' (created for this run)'}`,
    async close() {
      await stop(child);
      if (exists)
        await adminQuery(seedDbUrl, 'DELETE FROM users WHERE username LIKE $1', [`${prefix}-%`]).catch(() => undefined);
      else
        await adminQuery(databases.adminUrl, `DROP DATABASE IF EXISTS ${SEED_DATABASE} WITH (FORCE)`).catch(
          () => undefined,
        );
      if (!secretsExisted) rmSync(SEED_SECRETS, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- ours

interface Ours {
  base: string;
  child: ChildProcess;
  engine: () => string | undefined;
  close(): Promise<void>;
}

async function startOurs(env: Record<string, string>): Promise<Ours> {
  // BENCH_CPU_PROF=<dir>: the server writes a V8 CPU profile of the whole run there (on exit).
  const profile = process.env.BENCH_CPU_PROF;
  // The tests' starter: PORT=0, ready once it logs the port it listens on. NODE_OPTIONS and
  // LOG_LEVEL are set here, so the caller's never reach the server (serverEnv's rule).
  const running = await startProcess({
    script: 'dev-server',
    env: serverEnv({ LOG_LEVEL: 'info', ...env, NODE_OPTIONS: '' }),
    nodeOptions:
      profile === undefined || profile === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profile)}`],
    timeoutMs: 30_000,
  });
  const base = running.url;
  await waitFor(`${base}/readyz`, running.child, performance.now(), 30_000);
  return {
    base,
    child: running.child,
    // The server logs a JSON line per request, as in production; the engine is in one of the first.
    engine: () => {
      const line = running.output.find((entry) => entry.includes('"bcrypt_engine"'));
      return line === undefined ? undefined : (JSON.parse(line) as { engine?: string }).engine;
    },
    close: async () => void (await running.stop()),
  };
}

/** Peak resident memory, MiB: the sampled maximum of VmRSS, and the kernel's high-water mark. */
function memory(pid: number): { rssMiB: number; hwmMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMiB: round(kib('VmRSS') / 1024), hwmMiB: round(kib('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- the load

function runLoadProcess(spec: LoadSpec, script: 'load' | 'autocannon-load' = 'load'): Promise<LoadResult> {
  const limitMs = spec.warmupMs + spec.durationMs + spec.timeoutMs + 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`dist/bench/${script}.js`], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`the load process exited with ${code}: ${err}`));
      resolve(JSON.parse(out) as LoadResult);
    });
    child.stdin.end(JSON.stringify(spec));
  });
}

function loadSpec(
  url: string,
  side: 'ours' | 'seed',
  expectStatus: number,
  concurrency: number,
  scenario: Scenario,
  durationS = SETTINGS.durationS,
): LoadSpec {
  return {
    url,
    side,
    expectStatus,
    concurrency,
    warmupMs: SETTINGS.warmupS * 1000,
    durationMs: durationS * 1000,
    timeoutMs: SETTINGS.requestTimeoutS * 1000,
    scenario,
  };
}

// ---------------------------------------------------------------- the bcrypt floor

interface EngineFloor {
  engine: BcryptEngineName;
  hashMs: { median: number; min: number };
  verifyMs: { median: number; min: number };
  /** Hashes per second on a pool of 2 worker threads (PasswordHasher), 4 per thread in flight. */
  poolHashesPerSecond: number;
}

async function measureEngine(name: BcryptEngineName): Promise<EngineFloor> {
  const engine = loadBcryptEngine(name);
  const password = 'Floor-Password-24-chars!';
  const stored = engine.hash(password, COST);
  const hashes: number[] = [];
  const verifies: number[] = [];
  for (let i = 0; i < SETTINGS.floorSamples; i++) {
    let started = performance.now();
    engine.hash(password, COST);
    hashes.push(performance.now() - started);
    started = performance.now();
    if (!engine.verify(password, stored)) throw new Error(`${name} did not verify its own hash`);
    verifies.push(performance.now() - started);
  }
  const hasher = new PasswordHasher(COST, 2, name);
  try {
    await Promise.all([hasher.hash(password), hasher.hash(password)]); // threads up
    const jobs = 8;
    const started = performance.now();
    await Promise.all(Array.from({ length: jobs }, () => hasher.hash(password)));
    const poolHashesPerSecond = round(jobs / ((performance.now() - started) / 1000), 2);
    return {
      engine: name,
      hashMs: { median: round(median(hashes)), min: round(Math.min(...hashes)) },
      verifyMs: { median: round(median(verifies)), min: round(Math.min(...verifies)) },
      poolHashesPerSecond,
    };
  } finally {
    await hasher.close();
  }
}

// ---------------------------------------------------------------- the run

interface Row {
  fn: string;
  clients: number;
  ours: LoadResult;
  seed: LoadResult | undefined;
}

interface Target {
  target: string;
  measured: string;
  met: boolean;
}

const fmt = (value: number | undefined, digits = 0): string =>
  value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits);
const lat = (summary: LatencySummary | undefined, key: 'p50' | 'p95' | 'p99'): number | undefined => summary?.[key];

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = loadAverage();
  say(`load average before: ${loadBefore.join(' ')} (${os.cpus().length} CPUs)`);
  if (!existsSync(path.join(ROOT, 'dist/bundle/dev-server.js')))
    throw new Error('dist/ is missing: run npm run build first');

  const databases = await openDatabases();
  // Our server reads only its encryption key there: DATABASE_URL carries the connection.
  const secretsDir = makeSecretsDir([newFernetKey()]);
  const env = { DATABASE_URL: databases.ours.url, SECRETS_DIR: secretsDir };

  let ours: Ours | undefined;
  let seed: Seed | undefined;
  try {
    runMigrations(env);
    say(`ours: scratch database ${databases.ours.name}`);

    let seedSkipped: string | undefined;
    if (SETTINGS.skipSeed) seedSkipped = 'skipped (--no-seed)';
    else {
      const started = await startSeed(databases);
      if (typeof started === 'string') seedSkipped = started;
      else seed = started;
    }
    if (seedSkipped !== undefined) say(`!!! THE SEED SIDE IS SKIPPED: ${seedSkipped}`);
    else say(`seed: ${seed?.note}`);

    // The floor: each engine installed here, in this process, while nothing else runs.
    const engines: EngineFloor[] = [];
    for (const name of ['native', 'bcryptjs'] as const) {
      try {
        engines.push(await measureEngine(name));
      } catch (error) {
        say(`bcrypt engine ${name} unavailable here: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    for (const floor of engines)
      say(
        `floor ${floor.engine}: hash ${floor.hashMs.median} ms, verify ${floor.verifyMs.median} ms (median of ${SETTINGS.floorSamples}), ${floor.poolHashesPerSecond} hashes/s on 2 threads`,
      );

    ours = await startOurs(env);
    const url = (name: string): string => `${(ours as Ours).base}/${name}`;

    // Accounts prepared through the functions themselves. generate-2fa: one pending account
    // per client, re-enrolled again and again inside its enrollment window.
    const enrolling: Array<{ username: string; enrollmentToken: string }> = [];
    // The tests' journey steps (test/helpers/journey.ts): each answer checked against openapi.yaml.
    const base = ours.base;
    for (let i = 0; i < 16; i++) {
      const username = `bench-enrol-${i}`;
      enrolling.push({ username, enrollmentToken: (await createAccount(base, username)).enrollmentToken });
    }
    // authenticate: one account through the whole journey (password read from its QR code,
    // second factor enrolled, activated by a first sign-in), then copied row for row under
    // other usernames, so that every sign-in of the load can use a fresh (account, step).
    const enrolled = await createAndEnroll(base, 'bench-signin');
    const { password, secret } = enrolled;
    const first = await signIn(base, 'bench-signin', password, secret, currentStep());
    if (first.status !== 200)
      throw new Error(`the first sign-in answered ${first.status}: ${first.text.slice(0, 200)}`);
    const accountsPerRun = 400;
    const signInRuns = SETTINGS.concurrencies.length + 2 + SCALE_PROCESSES.length; // the load runs, the stress, the cold starts, the scale runs
    const copies = Array.from({ length: accountsPerRun * signInRuns }, (_, i) => `bench-signin-${i + 1}`);
    await adminQuery(
      databases.ours.url,
      `INSERT INTO users (username, username_skeleton, provenance, password_hash, mfa_secret, recovery_code_digests, created_at, expired, status, last_totp_step, activated_at)
       SELECT c.username, c.skeleton, provenance, password_hash, mfa_secret, recovery_code_digests, created_at, expired, status, last_totp_step, activated_at
         FROM users, unnest($2::text[], $3::text[]) AS c(username, skeleton) WHERE users.username = $1`,
      ['bench-signin', copies, copies.map(skeletonOf)],
    );
    const [template] = await adminQuery(databases.ours.url, 'SELECT last_totp_step FROM users WHERE username = $1', [
      'bench-signin',
    ]);
    const lastStep = (template?.last_totp_step as number | null) ?? null;
    let signInRun = 0;
    const signInAccounts = (): Array<{ username: string; lastStep: number | null }> => {
      const first = signInRun++ * accountsPerRun + 1;
      return Array.from({ length: accountsPerRun }, (_, i) => ({ username: `bench-signin-${first + i}`, lastStep }));
    };
    // The seed's generate-2fa updates an existing row: one per client, made as its
    // generate-password would (any bcrypt hash; the handler does not read it).
    if (seed !== undefined) {
      const placeholder = loadBcryptEngine('auto').hash('placeholder', 4);
      await adminQuery(
        databaseUrl(databases.adminUrl, SEED_DATABASE),
        `INSERT INTO users (username, password_hash) SELECT $1 || '-enrol-' || g, $2 FROM generate_series(0, 15) g ON CONFLICT (username) DO NOTHING`,
        [seed.prefix, placeholder],
      );
    }

    const rows: Row[] = [];
    for (const clients of SETTINGS.concurrencies) {
      for (const fn of ['generate-password', 'generate-2fa', 'authenticate'] as const) {
        if (!wanted(fn)) continue;
        let oursScenario: Scenario;
        let expected = 200;
        if (fn === 'generate-password') {
          oursScenario = { kind: 'create', prefix: `bench-c${clients}` };
          expected = 201;
        } else if (fn === 'generate-2fa') {
          oursScenario = { kind: 'enroll', accounts: enrolling };
        } else {
          oursScenario = { kind: 'sign-in', password, secret, accounts: signInAccounts() };
        }
        say(`${fn}, ${clients} client(s): ours`);
        const oursResult = await runLoadProcess(loadSpec(url(fn), 'ours', expected, clients, oursScenario));
        let seedResult: LoadResult | undefined;
        if (seed !== undefined && fn !== 'authenticate') {
          say(`${fn}, ${clients} client(s): seed`);
          const seedScenario: Scenario =
            fn === 'generate-password'
              ? { kind: 'create', prefix: `${seed.prefix}-c${clients}` }
              : {
                  kind: 'enroll',
                  accounts: Array.from({ length: 16 }, (_, i) => ({ username: `${seed?.prefix}-enrol-${i}` })),
                };
          seedResult = await runLoadProcess(loadSpec(seed.url(fn), 'seed', 200, clients, seedScenario));
        }
        rows.push({ fn, clients, ours: oursResult, seed: seedResult });
      }
    }

    // authenticate under 50 clients, with our process's memory sampled every 100 ms.
    const pid = ours.child.pid as number;
    let peakRssMiB = Number.NaN;
    let stress: LoadResult | undefined;
    let afterStress: { rssMiB: number; hwmMiB: number } | undefined;
    if (wanted('stress')) {
      say(`authenticate, ${SETTINGS.stressClients} clients for ${SETTINGS.stressS} s: ours`);
      peakRssMiB = 0;
      const sampler = setInterval(() => {
        const sample = memory(pid);
        if (sample !== undefined) peakRssMiB = Math.max(peakRssMiB, sample.rssMiB);
      }, 100);
      stress = await runLoadProcess(
        loadSpec(
          url('authenticate'),
          'ours',
          200,
          SETTINGS.stressClients,
          { kind: 'sign-in', password, secret, accounts: signInAccounts() },
          SETTINGS.stressS,
        ),
      );
      clearInterval(sampler);
      afterStress = memory(pid);
    }
    // Phases kept in their own modules (bench/<phase>.ts).
    const phases: PhaseReport[] = [];
    // Opt-in only: not part of the full run.
    if (SETTINGS.only.includes('load-compare'))
      phases.push(
        await loadComparePhase({
          url,
          enrolling,
          clients: 16,
          runLoad: runLoadProcess,
          loadSpec: (target, expected, clients, scenario) => loadSpec(target, 'ours', expected, clients, scenario),
          say,
        }),
      );
    if (wanted('recovery')) {
      phases.push(
        await recoveryPhase({
          url: url('authenticate'),
          databaseUrl: databases.ours.url,
          template: 'bench-signin',
          password,
          codes: enrolled.recoveryCodes,
          warmupS: SETTINGS.warmupS,
          durationS: SETTINGS.durationS,
          say,
        }),
      );
    }
    const engineInUse = ours.engine() ?? 'unknown';
    await ours.close();
    ours = undefined;

    // Scale: authenticate on 1, 2 and 4 processes behind a round-robin proxy (bench/scale.ts).
    if (wanted('scale'))
      phases.push(
        await scalePhase(
          {
            root: ROOT,
            serverEnv,
            freePort,
            waitFor,
            stop,
            say,
            runLoad: runLoadProcess,
            loadSpec: (target, expected, clients, scenario) => loadSpec(target, 'ours', expected, clients, scenario),
            signInScenario: () => ({ kind: 'sign-in', password, secret, accounts: signInAccounts() }),
          },
          env,
          `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
        ),
      );

    // Cold start: each function as its image starts it, beside a bare framework hello (bench/cold-start.ts).
    if (wanted('cold'))
      say(
        `cold start x${SETTINGS.coldStarts}: a bare functions-framework hello, authenticate, generate-password, generate-2fa`,
      );
    const cold = wanted('cold')
      ? await measureColdStarts({
          root: ROOT,
          runs: SETTINGS.coldStarts,
          env: (extra) => configuredEnv({ ...env, ...extra }),
          log: say,
          signIn: { password, secret, accounts: signInAccounts() },
        })
      : undefined;

    if (wanted('housekeeping'))
      phases.push(
        await housekeepingPhase({
          databaseUrl: databases.ours.url,
          start: (extra) => startOurs({ ...env, ...extra }),
          say,
        }),
      );
    if (wanted('audit-overhead'))
      phases.push(await auditOverheadPhase({ databaseUrl: databases.ours.url, samples: QUICK ? 200 : 1000, say }));
    if (wanted('embedded')) phases.push(await embeddedPhase({ root: ROOT, queries: 2000, runs: QUICK ? 1 : 3, say }));

    const loadAfter = loadAverage();
    say(`load average after: ${loadAfter.join(' ')}`);

    // ------------------------------------------------------------ figures and targets
    const serverEngine = engineInUse.startsWith('native') ? 'native' : 'bcryptjs';
    const floor = engines.find((entry) => entry.engine === serverEngine);
    const fastestVerify = Math.min(...engines.map((entry) => entry.verifyMs.median));
    const row = (fn: string, clients: number): Row | undefined =>
      rows.find((entry) => entry.fn === fn && entry.clients === clients);
    const gp1 = row('generate-password', 1);
    const tfa1 = row('generate-2fa', 1);
    const auth16 = row('authenticate', 16);
    const authBound = (2 * 1000) / fastestVerify;
    const targets: Target[] = [];
    const gpP50 = lat(gp1?.ours.latencyMs, 'p50');
    if (gpP50 !== undefined && floor !== undefined) {
      const seedP50 = lat(gp1?.seed?.latencyMs, 'p50');
      targets.push({
        target: 'generate-password p50 (1 client) <= 1.10 x one bcrypt hash, and below the seed',
        measured: `${fmt(gpP50)} ms = ${fmt(gpP50 / floor.hashMs.median, 2)} x hash (${fmt(floor.hashMs.median)} ms); seed ${fmt(seedP50)} ms`,
        met: gpP50 <= 1.1 * floor.hashMs.median && (seedP50 === undefined || gpP50 < seedP50),
      });
    }
    const tfaP50 = lat(tfa1?.ours.latencyMs, 'p50');
    const tfaSeed = lat(tfa1?.seed?.latencyMs, 'p50');
    targets.push({
      target: 'generate-2fa p50 (1 client) <= 1/20 of the seed',
      measured:
        tfaSeed === undefined
          ? `${fmt(tfaP50, 1)} ms; seed not measured`
          : `${fmt(tfaP50, 1)} ms vs seed ${fmt(tfaSeed)} ms (1/${fmt(tfaSeed / (tfaP50 ?? Number.NaN), 0)})`,
      met: tfaSeed !== undefined && tfaP50 !== undefined && tfaP50 <= tfaSeed / 20,
    });
    if (auth16 !== undefined) {
      const p50 = lat(auth16.ours.latencyMs, 'p50') ?? Number.NaN;
      const p99 = lat(auth16.ours.latencyMs, 'p99') ?? Number.NaN;
      targets.push({
        target: 'authenticate at 16 clients: >= 90 % of 2 cores / fastest verify, p99 <= 3 x p50, no error',
        measured: `${fmt(auth16.ours.throughput, 2)}/s = ${fmt((100 * auth16.ours.throughput) / authBound)} % of ${fmt(authBound, 2)}/s; p99/p50 ${fmt(p99 / p50, 2)}; errors ${auth16.ours.errors}`,
        met: auth16.ours.throughput >= 0.9 * authBound && p99 <= 3 * p50 && auth16.ours.errors === 0,
      });
    }
    if (cold !== undefined) targets.push(...coldStartTargets(cold, floor?.verifyMs.median));
    if (stress !== undefined) {
      targets.push({
        target: `RSS under ${SETTINGS.stressClients}-client load <= 150 MiB`,
        measured: `${fmt(peakRssMiB)} MiB peak sampled (high-water mark ${fmt(afterStress?.hwmMiB)} MiB)`,
        met: peakRssMiB <= 150,
      });
    }
    for (const phase of phases) targets.push(...phase.targets(floor));

    // ------------------------------------------------------------ the table
    const lines: string[] = [];
    lines.push(
      `COFRAP bench ${startedAt.toISOString()}  bcrypt cost ${COST}, our engine ${engineInUse}; load average before ${loadBefore.join(' ')}, after ${loadAfter.join(' ')}`,
    );
    lines.push(
      `runs: ${SETTINGS.warmupS} s warm-up + ${SETTINGS.durationS} s measured; latency in ms over successful answers; throughput = successful answers/s`,
    );
    lines.push('');
    lines.push(
      '| function | clients | ours p50 | p95 | p99 | req/s | errors | seed p50 | p95 | p99 | req/s | errors | p50 seed/ours | req/s ours/seed | ours p50 / bcrypt |',
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const entry of rows) {
      const o = entry.ours;
      const s = entry.seed;
      const bcryptOp =
        entry.fn === 'generate-password'
          ? floor?.hashMs.median
          : entry.fn === 'authenticate'
            ? floor?.verifyMs.median
            : undefined;
      const oursP50 = lat(o.latencyMs, 'p50');
      const seedP50 = lat(s?.latencyMs, 'p50');
      lines.push(
        `| ${entry.fn} | ${entry.clients} | ${fmt(oursP50, 1)} | ${fmt(lat(o.latencyMs, 'p95'), 1)} | ${fmt(lat(o.latencyMs, 'p99'), 1)} | ${fmt(o.throughput, 2)} | ${o.errors} | ` +
          (s === undefined
            ? `${entry.fn === 'authenticate' ? 'no such function in the seed' : 'not run'} | | | | | | | `
            : `${fmt(seedP50)} | ${fmt(lat(s.latencyMs, 'p95'))} | ${fmt(lat(s.latencyMs, 'p99'))} | ${fmt(s.throughput, 2)} | ${s.errors} | ${fmt((seedP50 ?? Number.NaN) / (oursP50 ?? Number.NaN), 1)} | ${s.throughput > 0 ? fmt(o.throughput / s.throughput, 1) : '—'} | `) +
          `${bcryptOp === undefined ? '—' : fmt((oursP50 ?? Number.NaN) / bcryptOp, 2)} |`,
      );
    }
    lines.push('');
    lines.push('bcrypt floor (cost 12, this process, one call at a time; median of ' + SETTINGS.floorSamples + '):');
    for (const entry of engines) {
      lines.push(
        `  ${entry.engine.padEnd(8)} hash ${fmt(entry.hashMs.median, 1)} ms (min ${fmt(entry.hashMs.min, 1)}), verify ${fmt(entry.verifyMs.median, 1)} ms (min ${fmt(entry.verifyMs.min, 1)}), ${fmt(entry.poolHashesPerSecond, 2)} hashes/s on 2 worker threads${entry.engine === serverEngine ? '   <- our server' : ''}`,
      );
    }
    lines.push('');
    if (stress !== undefined) {
      const sp = stress.latencyMs;
      lines.push(
        `authenticate, ${SETTINGS.stressClients} clients, ${SETTINGS.stressS} s: ${fmt(stress.throughput, 2)} req/s, p50 ${fmt(sp?.p50)} ms, p99 ${fmt(sp?.p99)} ms, shed (503 + Retry-After, then retried) ${stress.shed}, errors ${stress.errors}, peak RSS ${fmt(peakRssMiB)} MiB (VmHWM ${fmt(afterStress?.hwmMiB)} MiB)`,
      );
    }
    if (cold !== undefined) lines.push(...coldStartLines(cold, SETTINGS.coldStarts, floor?.verifyMs.median), '');
    for (const phase of phases) lines.push(...phase.lines);
    lines.push(seed === undefined ? `seed: NOT MEASURED: ${seedSkipped ?? ''}` : `seed: ${seed.note}`);
    lines.push('');
    lines.push('| target | measured | |');
    lines.push('|---|---|---|');
    for (const entry of targets)
      lines.push(`| ${entry.target} | ${entry.measured} | ${entry.met ? 'met' : 'MISSED'} |`);
    const table = lines.join('\n');
    process.stdout.write(table + '\n');

    const record = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(os.totalmem() / 2 ** 30, 1),
        kernel: `${os.type()} ${os.release()}`,
        node: process.version,
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadAfter,
      },
      settings: { ...SETTINGS, bcryptCost: COST, quick: QUICK },
      database: {
        server: new URL(databases.adminUrl).host,
        ours: 'scratch database (created, migrated, dropped)',
        seed: seed?.note ?? seedSkipped,
      },
      engineInUse,
      floor: engines,
      rows,
      authenticateStress: {
        clients: SETTINGS.stressClients,
        durationS: SETTINGS.stressS,
        result: stress,
        peakRssMiB,
        vmHwmMiB: afterStress?.hwmMiB,
      },
      coldStart: cold,
      phases: Object.fromEntries(phases.map((phase) => [phase.name, phase.figures])),
      targets,
      table,
    };
    const dir = path.join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(
      dir,
      `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}${SETTINGS.only.length > 0 ? '-partial' : ''}.json`,
    );
    writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
    const complete = !QUICK && SETTINGS.only.length === 0;
    if (complete) {
      copyFileSync(file, path.join(dir, 'latest.json'));
      updateReadme(record.machine, table);
    }
    say(`written ${path.relative(ROOT, file)}${complete ? ' and bench/results/latest.json' : ''}`);
  } finally {
    await ours?.close();
    await seed?.close();
    await databases.close().catch((error: unknown) => say(`could not drop ${databases.ours.name}: ${String(error)}`));
    rmSync(secretsDir, { recursive: true, force: true });
  }
}

/** Replaces the "latest run" section of bench/README.md with this run's machine and table, as printed. */
function updateReadme(
  machine: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string; node: string },
  table: string,
): void {
  const file = path.join(ROOT, 'bench/README.md');
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const start = '<!-- latest:start -->';
  const end = '<!-- latest:end -->';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) return;
  const section = [
    start,
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel}, Node.js ${machine.node}, PostgreSQL on 127.0.0.1. Written by the run itself (bench/results/latest.json holds every figure).`,
    '',
    ...table.split('\n').map((line) => (line.startsWith('|') || line === '' ? line : `    ${line}`)),
    end,
  ].join('\n');
  writeFileSync(file, text.slice(0, from) + section + text.slice(to + end.length));
}

main().catch((error: unknown) => {
  say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
