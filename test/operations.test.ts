// What operators rely on: the seed's table upgraded in place and its rows signing in,
// Python reading what we write, migrations under a lock, readiness, the database going
// away and coming back, one function per process, start-up errors, graceful shutdown.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { openPGlite } from '../lib/db/embedded.js';
import { BACKENDS, Backend, makeSecretsDir, requireBackend, seedFixture } from './helpers/backends.js';
import { PROJECT_ROOT, runToExit, startProcess } from './helpers/process.js';
import type { RunningProcess } from './helpers/process.js';
import { postJson, rememberSecretsOf, request } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { checkAgainstDocument } from './helpers/contract.js';
import { until } from './helpers/time.js';
import { createAccount, createAndEnroll, enroll, signIn } from './helpers/journey.js';
import { codeAt, currentStep, nextStep } from './helpers/totp.js';
import { SecretBox } from '../lib/crypto/fernet.js';
import { newFernetKey } from '../lib/config.js';
import { rememberOutput } from './helpers/secrets.js';
import { loadMigrations } from '../lib/db/migrate.js';

const SEED_SCHEMA = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/seed-schema.sql'), 'utf8');
const SEED_INSERT =
  'INSERT INTO users (username, password_hash, mfa_secret, created_at, expired) VALUES ($1, $2, $3, $4, $5)';
// Every shipped migration, SQL or TypeScript: what a fresh database gets.
const VERSIONS = loadMigrations().map((m) => m.version);

/** Creates the seed's table with the Python-made rows, before any migration of ours. */
async function writeSeedDatabase(backend: Backend, dataDir: string | undefined): Promise<void> {
  const rows = seedFixture().rows;
  // One active row is old enough to have expired by age (with the flag still false).
  const createdAt = (username: string): string =>
    username === 'seed-pending' ? new Date().toISOString() : '2026-09-01T00:00:00Z';
  const params = (row: (typeof rows)[number]): unknown[] => [
    row.username,
    row.password_hash,
    row.mfa_secret,
    createdAt(row.username),
    row.expired,
  ];
  await backend.prepare({ migrate: false });
  if (backend.kind === 'postgres') {
    await backend.sql(SEED_SCHEMA);
    for (const row of rows) await backend.sql(SEED_INSERT, params(row));
    return;
  }
  const db = await openPGlite(dataDir as string);
  await db.exec(SEED_SCHEMA);
  for (const row of rows) await db.query(SEED_INSERT, params(row));
  await db.close();
}

for (const kind of BACKENDS) {
  describe(`seed compatibility on ${kind}`, function () {
    const backend = new Backend(kind);
    let server: RunningProcess | undefined;

    before(async function () {
      await requireBackend(this, kind);
    });
    after(async () => {
      await server?.stop();
      await backend.dispose();
    });

    it('upgrades the seed table in place and its Python-made rows sign in', async () => {
      const dataDir = backend.env().PGLITE_DATA_DIR;
      await writeSeedDatabase(backend, dataDir);
      if (kind === 'postgres') {
        const first = await runToExit('migrate', backend.env());
        expect(first.code, first.output).to.equal(0);
        expect(first.output).to.contain(`applied migrations ${VERSIONS.join(', ')}`);
        const again = await runToExit('migrate', backend.env());
        expect(again.output).to.contain('schema up to date');
        const rows = await backend.sql<{ username: string; status: string; password_hash: string }>(
          'SELECT username, status, password_hash FROM users ORDER BY username',
        );
        expect(rows.map((r) => [r.username, r.status])).to.deep.equal([
          ['seed-expired', 'active'],
          ['seed-pending', 'pending'],
          ['seed.user', 'active'],
        ]);
        expect(rows.every((r) => r.password_hash.startsWith('$2b$12$'))).to.equal(true);
      }
      server = await backend.start({ BCRYPT_COST: '12' });
      const [user, pending, expired] = seedFixture().rows;
      const step = currentStep(); // steps step and step + 1: no wait (helpers/totp.ts)

      // "Seed.User" was renamed to its normalised form; any spelling reaches it.
      const signedIn = await postJson(`${server.url}/authenticate`, {
        username: 'Seed.User',
        password: user?.password,
        totp: codeAt(user?.totp_secret as string, step),
      });
      expect(signedIn.status, signedIn.text).to.equal(200);
      const wrong = await postJson(`${server.url}/authenticate`, {
        username: 'seed.user',
        password: pending?.password,
        totp: codeAt(user?.totp_secret as string, step + 1),
      });
      expect(wrong.status).to.equal(401);

      const flagged = await postJson(`${server.url}/authenticate`, {
        username: 'seed-expired',
        password: expired?.password,
        totp: codeAt(expired?.totp_secret as string, step),
      });
      expect(flagged.status, flagged.text).to.equal(403);
      expect(flagged.body.code).to.equal('credentials_expired');

      // A seed row that never enrolled has no window open: a new password may be issued.
      const restarted = await createAccount(server.url, 'seed-pending');
      const { secret } = await enroll(server.url, 'seed-pending', restarted.enrollmentToken);
      expect((await signIn(server.url, 'seed-pending', restarted.password, secret, step)).status).to.equal(200);
    });
  });
}

describe('Fernet key rotation on postgres', function () {
  const backend = new Backend('postgres');
  before(async function () {
    await requireBackend(this, 'postgres');
  });
  after(() => backend.dispose());

  it('re-seals every secret from a Python-made key to a new one while sign-ins go on', async () => {
    // The secrets directory holds [a new key, the Python-made key]: the rotation's setup.
    const keyFile = path.join(backend.secretsDir, 'encryption-key');
    const [newKey, pythonKey] = readFileSync(keyFile, 'utf8').trim().split('\n') as [string, string];
    expect(pythonKey).to.equal(seedFixture().fernet_key);
    await writeSeedDatabase(backend, undefined);
    expect((await runToExit('migrate', backend.env())).code).to.equal(0);
    let server = await backend.start({ BCRYPT_COST: '10' });
    const [seedUser] = seedFixture().rows;
    try {
      const fresh = await createAndEnroll(server.url, 'after.python');
      const step = nextStep(); // steps step - 1 and step: no wait (helpers/totp.ts)
      // sign-ins before, during and after the rotation
      const before = await postJson(`${server.url}/authenticate`, {
        username: 'seed.user',
        password: seedUser?.password,
        totp: codeAt(seedUser?.totp_secret as string, step - 1),
      });
      expect(before.status, before.text).to.equal(200);
      const [rotation, during] = await Promise.all([
        runToExit('rotate-encryption-key', backend.env()),
        signIn(server.url, 'after.python', fresh.password, fresh.secret, step),
      ]);
      expect(rotation.code, rotation.output).to.equal(0);
      // The two Python-sealed secrets are re-sealed; after.python's are on the new key
      // already: its TOTP secret, and its sealed enrollment codes unless its concurrent
      // first sign-in voided them before the rotation reached that column (either order).
      const summary =
        /examined (\d+), re-sealed 2, already on the first key (\d+), changed meanwhile 0, unreadable 0/.exec(
          rotation.output,
        );
      expect(summary, rotation.output).to.not.equal(null);
      expect(`examined ${summary?.[1]}, already ${summary?.[2]}`, rotation.output).to.be.oneOf([
        'examined 3, already 1',
        'examined 4, already 2',
      ]);
      expect(during.status).to.equal(200);
      const rows = await backend.sql<{ username: string; mfa_secret: string }>(
        'SELECT username, mfa_secret FROM users WHERE mfa_secret IS NOT NULL',
      );
      const onlyNew = new SecretBox([newKey]);
      for (const row of rows) expect(onlyNew.decrypt(row.mfa_secret), row.username).to.be.a('string');
      // resumable: a second run finds nothing to do
      expect((await runToExit('rotate-encryption-key', backend.env())).output).to.contain(
        're-sealed 0, already on the first key 3',
      );
      await server.stop();

      // the Python-made key can now be retired
      writeFileSync(keyFile, newKey + '\n');
      server = await backend.start({ BCRYPT_COST: '10' });
      const afterwards = await postJson(`${server.url}/authenticate`, {
        username: 'seed.user',
        password: seedUser?.password,
        // seed.user last signed in at step - 1; the restarts may have taken the clock past step
        totp: codeAt(seedUser?.totp_secret as string, Math.max(step, currentStep())),
      });
      expect(afterwards.status, afterwards.text).to.equal(200);
    } finally {
      await server.stop();
    }
  });

  it('reports (and leaves alone) a secret that no configured key opens', async () => {
    const keyFile = path.join(backend.secretsDir, 'encryption-key');
    writeFileSync(keyFile, `${newFernetKey()}\n`);
    const result = await runToExit('rotate-encryption-key', backend.env());
    expect(result.code).to.equal(1);
    expect(result.output).to.match(/unreadable 3/);
  });
});

describe('operations on postgres', function () {
  const backend = new Backend('postgres');

  before(async function () {
    await requireBackend(this, 'postgres');
  });
  after(() => backend.dispose());

  it('two migrations started together apply each version once', async () => {
    await backend.prepare({ migrate: false });
    const [a, b] = await Promise.all([runToExit('migrate', backend.env()), runToExit('migrate', backend.env())]);
    expect(a.code, a.output).to.equal(0);
    expect(b.code, b.output).to.equal(0);
    const versions = await backend.sql<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((v) => v.version)).to.deep.equal(VERSIONS);
    expect([a.output, b.output].filter((o) => o.includes(`applied migrations ${VERSIONS.join(', ')}`))).to.have.length(
      1,
    );
  });

  it('Python bcrypt and Python Fernet read what the functions stored', async function () {
    const python = spawnSync('/usr/bin/python3', ['-c', 'import bcrypt, cryptography'], { encoding: 'utf8' });
    if (python.status !== 0) {
      if (process.env.CI === 'true')
        throw new Error('python3 with bcrypt and cryptography is required under CI=true (.ci/run installs them)');
      console.log('    ! SKIPPED: /usr/bin/python3 with bcrypt and cryptography is not installed');
      this.skip();
    }
    const server = await backend.start({ BCRYPT_COST: '12' });
    try {
      const account = await createAndEnroll(server.url, 'py.reader');
      const [row] = await backend.sql<{ password_hash: string; mfa_secret: string }>(
        "SELECT password_hash, mfa_secret FROM users WHERE username = 'py.reader'",
      );
      expect(row?.password_hash).to.match(/^\$2[ab]\$12\$/);
      const key = readFileSync(path.join(backend.secretsDir, 'encryption-key'), 'utf8').split('\n')[0] as string;
      const script = [
        'import sys, bcrypt',
        'from cryptography.fernet import Fernet',
        'password, hashed, key, sealed = sys.argv[1:5]',
        'print(bcrypt.checkpw(password.encode(), hashed.encode()))',
        'print(Fernet(key.encode()).decrypt(sealed.encode()).decode())',
      ].join('\n');
      const out = execFileSync(
        '/usr/bin/python3',
        ['-c', script, account.password, row?.password_hash as string, key, row?.mfa_secret as string],
        { encoding: 'utf8' },
      );
      expect(out.trim().split('\n')).to.deep.equal(['True', account.secret]);
    } finally {
      await server.stop();
    }
  });

  it('is not ready until migrated, and ready after', async () => {
    const fresh = new Backend('postgres');
    await fresh.prepare({ migrate: false });
    const server = await fresh.start();
    try {
      expect((await request(`${server.url}/healthz`)).status).to.equal(200);
      const notReady = await request(`${server.url}/readyz`);
      expect(notReady.status).to.equal(503);
      expect(notReady.body.error).to.match(/migrat/);
      expect((await runToExit('migrate', fresh.env())).code).to.equal(0);
      expect((await request(`${server.url}/readyz`)).status).to.equal(200);
    } finally {
      await server.stop();
      await fresh.dispose();
    }
  });
});

interface HeldRequest {
  expected: number;
  /** Sends the rest of the body and reads the answer (checked against openapi.yaml). */
  finish(): Promise<{ status: number; text: string; connection: string | undefined }>;
}

/** A POST whose headers and first half of the body are on the wire; the rest waits for finish(). */
function holdRequest(port: number, path: string, value: unknown, expected: number): Promise<HeldRequest> {
  const body = Buffer.from(JSON.stringify(value));
  const half = body.length >> 1;
  return new Promise((resolve, reject) => {
    // Expect: 100-continue: the server answers "100 Continue" once it has read the headers
    // and emitted the request, so the test knows, without waiting on the clock, that the
    // server counts this request as in flight.
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), expect: '100-continue' },
    });
    const answered = new Promise<{ status: number; text: string; connection: string | undefined }>((done, fail) => {
      req.on('error', fail);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const headers = new Headers();
          for (const [name, header] of Object.entries(res.headers))
            if (typeof header === 'string') headers.set(name, header);
          checkAgainstDocument('POST', path, { status: res.statusCode ?? 0, headers, text });
          if ((res.statusCode ?? 500) < 400) rememberSecretsOf(JSON.parse(text) as Answer['body']);
          done({ status: res.statusCode ?? 0, text, connection: res.headers.connection });
        });
      });
    });
    answered.catch(() => undefined);
    req.once('error', reject);
    req.flushHeaders();
    req.once('continue', () =>
      req.write(body.subarray(0, half), () =>
        resolve({
          expected,
          finish: () => {
            req.end(body.subarray(half));
            return answered;
          },
        }),
      ),
    );
  });
}

describe('one function per process', function () {
  const backend = new Backend('postgres');
  before(async function () {
    await requireBackend(this, 'postgres');
    await backend.prepare();
  });
  after(() => backend.dispose());

  it('FUNCTION_TARGET serves that function at / with its probes', async () => {
    const server = await backend.start({ FUNCTION_TARGET: 'generate-password' }, 'serve');
    try {
      const created = await postJson(`${server.url}/`, { username: 'solo' }, {}, '/generate-password');
      expect(created.status, created.text).to.equal(201);
      expect((await request(`${server.url}/healthz`)).status).to.equal(200);
      expect((await request(`${server.url}/readyz`)).status).to.equal(200);
      expect((await request(`${server.url}/`, { documentedAs: '/generate-password' })).status).to.equal(405);
    } finally {
      expect(await server.stop()).to.equal(0);
    }
  });

  it('FUNCTION_TARGET=portal serves the page with no database and no secret', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'cofrap-no-secrets-'));
    // A database that cannot answer and an empty secrets folder: the portal needs neither.
    const server = await startProcess({
      script: 'serve',
      env: {
        FUNCTION_TARGET: 'portal',
        POSTGRES_HOST: '127.0.0.1',
        POSTGRES_PORT: '1',
        SECRETS_DIR: empty,
        PORTAL_AUTHENTICATE_URL: 'https://authenticate.cofrap.example.com/',
      },
    });
    try {
      const page = await request(`${server.url}/`);
      expect(page.status).to.equal(200);
      expect(page.headers.get('content-security-policy')).to.contain(
        "connect-src 'self' https://authenticate.cofrap.example.com",
      );
      const config = await request(`${server.url}/config.json`);
      expect(config.body.authenticate).to.equal('https://authenticate.cofrap.example.com/');
      expect((await request(`${server.url}/readyz`)).status).to.equal(200);
    } finally {
      expect(await server.stop()).to.equal(0);
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('FUNCTION_TARGET=portal stops with one line on a bad PORTAL_*_URL', async () => {
    const result = await runToExit('serve', {
      FUNCTION_TARGET: 'portal',
      PORTAL_GENERATE_2FA_URL: 'ftp://files.example.com/',
    });
    expect(result.code, result.output).to.equal(1);
    expect(result.output.trim().split('\n')).to.have.length(1);
    expect(result.output).to.contain('PORTAL_GENERATE_2FA_URL');
  });

  it('also runs under the functions-framework CLI', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const cli = path.join(PROJECT_ROOT, 'node_modules/.bin/functions-framework');
    const { spawn } = await import('node:child_process');
    const child = spawn(
      cli,
      ['--target=authenticate', '--source=dist/functions/authenticate/index.js', `--port=${port}`],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...backend.env(), DATABASE_URL: '', NODE_ENV: 'production' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // its output joins the run's, for the log check (test/hooks/no-secrets-in-logs.ts)
    for (const stream of [child.stdout, child.stderr])
      stream.on('data', (chunk: Buffer) =>
        chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .forEach((line) => rememberOutput(`functions-framework authenticate (pid ${child.pid})`, line)),
      );
    try {
      const health = await until(
        async () => {
          const answer = await request(`http://127.0.0.1:${port}/healthz`).catch(() => ({ status: 0 }));
          return answer.status === 200 && answer;
        },
        'the functions-framework CLI never answered /healthz',
        { everyMs: 50 },
      );
      expect(health.status).to.equal(200);
      const refused = await postJson(
        `http://127.0.0.1:${port}/`,
        { username: 'nobody', password: 'x', totp: '123456' },
        {},
        '/authenticate',
      );
      expect(refused.status).to.equal(401);
      expect(refused.body.code).to.equal('invalid_credentials');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('SIGTERM with 50 requests in flight: all 50 complete with their normal answers, then exit 0', async () => {
    // Held in flight deterministically: each request's headers are read by the server (its
    // 100 Continue says so) and half its body sent, the rest only after the signal, so all
    // 50 are in flight when it comes whatever the machine's speed. The server's own count at the signal (its "shutdown" line) says so.
    // The body limit well above the test's pauses; the bcrypt queue's bound above its load.
    const server = await backend.start({ BCRYPT_QUEUE_SECONDS: '60', REQUEST_BODY_TIMEOUT_MS: '60000' });
    try {
      const enrolling = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          createAccount(server.url, `drain.enrol${i}`).then((c) => ({ username: `drain.enrol${i}`, ...c })),
        ),
      );
      const held: HeldRequest[] = [];
      for (let i = 0; i < 25; i++)
        held.push(await holdRequest(server.port, '/generate-password', { username: `drain${i}` }, 201));
      for (let i = 0; i < 15; i++)
        held.push(
          await holdRequest(
            server.port,
            '/authenticate',
            { username: `drain.nobody${i}`, password: 'not-the-password', totp: '123456' },
            401,
          ),
        );
      for (const e of enrolling)
        held.push(
          await holdRequest(
            server.port,
            '/generate-2fa',
            { username: e.username, enrollment_token: e.enrollmentToken },
            200,
          ),
        );
      expect(held).to.have.length(50);

      const exit = server.stop('SIGTERM');
      const shutdown = await until(
        () =>
          server.output
            .filter((line) => line.includes('"event":"shutdown"'))
            .map((line) => JSON.parse(line) as { in_flight: number })[0],
        'no shutdown line',
      );
      expect(shutdown.in_flight, 'requests in flight at SIGTERM').to.equal(50);
      const answers = await Promise.all(held.map((h) => h.finish()));
      const code = await exit;
      const lost = answers
        .map((a, i) => (a.status === held[i]?.expected ? '' : `#${i} ${a.status} ${a.text}`))
        .filter(Boolean);
      expect(
        answers.map((a) => a.status),
        lost.join('; '),
      ).to.deep.equal(held.map((h) => h.expected));
      // from the signal on, every answer closes its connection
      expect(answers.every((a) => a.connection === 'close')).to.equal(true);
      expect(code, 'exit 1 means the drain timed out').to.equal(0);
      expect(server.output.some((line) => line.includes('"event":"stopped"'))).to.equal(true);
    } finally {
      await server.stop('SIGKILL');
    }
  });

  it('stops at start with one line naming a bad variable', async () => {
    const secretsDir = makeSecretsDir();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'cofrap-unused-'));
    try {
      for (const [env, named] of [
        [{ FUNCTION_TARGET: 'nope' }, 'FUNCTION_TARGET'],
        [{ FUNCTION_TARGET: 'authenticate', BCRYPT_COST: '99' }, 'BCRYPT_COST'],
        [{ FUNCTION_TARGET: 'authenticate', K_SERVICE: 'authenticate' }, 'K_SERVICE'],
        [{ FUNCTION_TARGET: 'authenticate', POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: dataDir }, 'encryption-key'],
      ] as const) {
        const result = await runToExit('serve', { SECRETS_DIR: secretsDir, PGLITE_DATA_DIR: dataDir, ...env });
        expect(result.code, result.output).to.equal(1);
        const lines = result.output.trim().split('\n');
        expect(lines, result.output).to.have.length(1);
        expect(lines[0]).to.contain(named);
      }
    } finally {
      rmSync(secretsDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
