// The code caches of the function bundles (lib/code-cache.ts), made at build time by a
// training start of each: the function starts as in its image, answers its probes and one
// refused request, and stops; on its way out it writes V8's cache of everything it
// compiled. No database is needed: it points at a port where none listens, so nothing is
// read or written anywhere. The cache is only good for the Node that made it, which is
// why the image makes its own (Dockerfile, build stage).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
// The compiled modules (this script runs after tsc): the variable the loader reads, and
// the key format the functions accept.
import { CODE_CACHE_OUT } from '../dist/lib/code-cache.js';
import { newFernetKey } from '../dist/lib/config.js';

const TIMEOUT_MS = 30_000;

/** Enough configuration to start each function: nothing it names exists. */
function trainingEnv(secretsDir) {
  return {
    PATH: process.env.PATH ?? '',
    // V8 flags change what V8 accepts as a cache: the build's are the ones its images run
    // with (docs/images.md, "A cache from another Node").
    ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}),
    NODE_ENV: 'production',
    PORT: '0',
    SECRETS_DIR: secretsDir,
    DATABASE_URL: 'postgres://cofrap@127.0.0.1:1/cofrap',
    EVENTS_OIDC_ISSUER: 'https://issuer.invalid',
    EVENTS_OIDC_AUDIENCE: 'cofrap-training',
    EVENTS_OIDC_JWKS_URL: 'https://issuer.invalid/keys',
    EVENTS_OIDC_SUBJECTS: 'system:serviceaccount:training:none',
    HR_EVENT_SOURCES: 'https://hr.invalid',
  };
}

function send(port, method, pathname, body) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path: pathname, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * One training run of dist/bundle/<name>.js with `args`. Resolves with the size of the
 * <name>.cjs.cache it wrote on its way out, once it exits as `expected(code, output)` says;
 * rejects otherwise, or when `drive` fails, or after TIMEOUT_MS. `drive(stdout, child)` sees
 * the standard output as it comes, to talk to the process and stop it.
 */
function runTraining(outDir, name, { args = [], env, expected, drive }) {
  const cacheFile = path.join(outDir, `${name}.cjs.cache`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(outDir, `${name}.js`), ...args], {
      env: { ...env, [CODE_CACHE_OUT]: cacheFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stdout = '';
    let failure;
    const fail = (error) => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => fail(new Error(`no clean exit within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.stdout.on('data', (chunk) => {
      output += chunk;
      stdout += chunk;
      if (drive !== undefined) drive(stdout, child).catch(fail);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      let size = 0;
      try {
        size = statSync(cacheFile).size;
      } catch {
        // reported below
      }
      if (failure === undefined && expected(code, output) && size > 0) resolve(size);
      else
        reject(
          new Error(
            `code cache of ${name}: ${failure?.message ?? `exit ${code ?? signal}`}, cache ${size} bytes\n${output}`,
          ),
        );
    });
  });
}

/**
 * Drives a function's training start: once it says it listens, the probes and a refused
 * request (what a pod does before its first answer), then SIGTERM.
 */
function probesThenStop() {
  let started = false;
  return async (stdout, child) => {
    if (started) return;
    // Whole lines only: a chunk may end inside one.
    const listening = stdout
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .find((entry) => entry.event === 'listening');
    if (listening === undefined) return;
    started = true;
    for (const [method, pathname, body] of [
      ['GET', '/healthz'],
      ['GET', '/readyz'],
      ['GET', '/'],
      ['POST', '/', '{}'],
    ])
      await send(listening.port, method, pathname, body);
    child.kill('SIGTERM');
  };
}

/** One training start of the function bundle dist/bundle/<name>.js. */
function train(outDir, name, env) {
  return runTraining(outDir, name, {
    env: { ...env, FUNCTION_TARGET: name, LOG_LEVEL: 'info' },
    expected: (code) => code === 0,
    drive: probesThenStop(),
  });
}

/**
 * One training run of the operator command dist/bundle/<name>.js: `show` of an account,
 * which reads its configuration, opens the database and stops at the refused connection
 * (exit 1, one line), as a run against a database that is down would.
 */
function trainCommand(outDir, name, env) {
  return runTraining(outDir, name, {
    args: ['show', 'code-cache.training'],
    env,
    expected: (code, output) => code === 1 && /database unreachable/.test(output),
  });
}

/**
 * What a cache was made from: the bundle's bytes, the Node (V8) that compiled them and its
 * flags. A cache is only good for all three, and a training start compiles the same for
 * the same.
 */
function sourceStamp(outDir, name) {
  const bundle = readFileSync(path.join(outDir, `${name}.cjs`));
  const digest = createHash('sha256').update(bundle).digest('hex');
  return `${digest} ${process.version} ${process.arch} ${JSON.stringify(process.env.NODE_OPTIONS ?? '')}\n`;
}

/** The size of <name>.cjs.cache when its stamp is `stamp`, else 0. */
function keptCacheSize(outDir, name, stamp) {
  try {
    const kept = readFileSync(path.join(outDir, `${name}.cjs.cache.source`), 'utf8');
    return kept === stamp ? statSync(path.join(outDir, `${name}.cjs.cache`)).size : 0;
  } catch {
    return 0; // no stamp or no cache yet
  }
}

/**
 * Makes <name>.cjs.cache beside each function bundle in `outDir`, and beside each of the
 * operator `commands`; fails if one cannot be made. A cache made from the same bundle by
 * the same Node (its stamp, <name>.cjs.cache.source) is kept: esbuild writes the same
 * bytes from the same tree, so a build of an unchanged tree (npm test's, npm start's)
 * skips the training starts, about 3 s of its 11 here.
 */
export async function fillCodeCaches(outDir, names, commands = []) {
  const secretsDir = mkdtempSync(path.join(tmpdir(), 'cofrap-code-cache-'));
  try {
    writeFileSync(path.join(secretsDir, 'encryption-key'), `${newFernetKey()}\n`);
    const env = trainingEnv(secretsDir);
    const unlessKept = (name, training) => async () => {
      const stamp = sourceStamp(outDir, name);
      const kept = keptCacheSize(outDir, name, stamp);
      if (kept > 0) return `${name}.cjs.cache ${Math.round(kept / 1024)} KiB (kept)`;
      // No stamp while it trains: a cache cut short by a failed training is never kept.
      rmSync(path.join(outDir, `${name}.cjs.cache.source`), { force: true });
      const size = await training();
      writeFileSync(path.join(outDir, `${name}.cjs.cache.source`), stamp);
      return `${name}.cjs.cache ${Math.round(size / 1024)} KiB`;
    };
    const runs = [
      ...names.map((name) => unlessKept(name, () => train(outDir, name, env))),
      ...commands.map((name) => unlessKept(name, () => trainCommand(outDir, name, env))),
    ];
    const made = new Array(runs.length);
    // As many at a time as there are cores: each run compiles what it runs, whatever else
    // runs beside it, so the caches are the same; the build waits ~1.5 s less on two cores.
    let next = 0;
    const lane = async () => {
      while (next < runs.length) {
        const index = next++;
        made[index] = await runs[index]();
      }
    };
    await Promise.all(Array.from({ length: Math.min(availableParallelism(), runs.length) }, lane));
    return made;
  } finally {
    rmSync(secretsDir, { recursive: true, force: true });
  }
}
