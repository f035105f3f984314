// The bench's cold-start phase (bench/README.md, "What it does", item 7). Each function
// started as its image starts it: `node dist/bin/serve.js` in the image is its bundle,
// dist/bundle/<function>.js here (scripts/bundle.mjs). Beside it, in the same run, the
// floor: a bare functions-framework "hello" started by the framework's own CLI. Measured:
// spawn → first 200 on /readyz (median), the process's idle RSS right after that answer,
// and for authenticate spawn → its first successful sign-in. Every start is killed
// before the next; any start that fails throws, and the bench then exits non-zero.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { codeAt, currentStep } from '../test/helpers/totp.js';
import { freePort, median, round } from './phase.js';

export const COLD_FUNCTIONS = ['authenticate', 'generate-password', 'generate-2fa'] as const;

export interface ColdRun {
  /** spawn → first 200 on /readyz (the hello: on any path, it answers every one). */
  readyMs: number;
  /** VmRSS of the process right after that answer (worker threads included). */
  idleRssMiB: number;
  /** authenticate only: spawn → its first successful sign-in (200). */
  answeredMs?: number;
}

export interface ColdSummary {
  runs: ColdRun[];
  readyMs: number;
  idleRssMiB: number;
  answeredMs?: number;
}

export interface ColdStartResult {
  command: string;
  floorCommand: string;
  hello: ColdSummary;
  functions: Record<string, ColdSummary>;
  /** What "answered" means for authenticate. */
  answeredBy: string;
}

/**
 * What every start here, the floor's and ours, has of an environment besides its own
 * settings: what the image sets (Dockerfile: NODE_ENV) and a PATH. Not this shell's
 * environment: a variable read at Node's start changes the figure (NODE_EXTRA_CA_CERTS,
 * set on this machine, made every start about 50 ms slower here), and a container does not
 * inherit the developer's shell.
 */
const IMAGE_ENV = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', NODE_ENV: 'production' };

export interface ColdStartOptions {
  root: string;
  runs: number;
  /** Our processes' settings (database, secrets, bcrypt cost), without PORT; IMAGE_ENV is added. */
  env: (extra: Record<string, string>) => Record<string, string>;
  log: (line: string) => void;
  /** Accounts for authenticate's first sign-in, one per start (a TOTP step is accepted once per account). */
  signIn: { password: string; secret: string; accounts: Array<{ username: string; lastStep: number | null }> };
}

function status(
  port: number,
  method: 'GET' | 'POST',
  pathname: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1',
      port,
      method,
      path: pathname,
      agent: false,
      headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    });
    req.setTimeout(30_000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.end(payload);
  });
}

/** Polls until the answer is `expected`; ms since `since`. */
async function until(
  child: ChildProcess,
  since: number,
  ask: () => Promise<number>,
  expected: number,
  what: string,
): Promise<number> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what}: the process exited (${child.exitCode ?? child.signalCode}) before answering`);
    const answer = await ask();
    if (answer === expected) return performance.now() - since;
    if (answer !== 0 && answer !== 503) throw new Error(`${what}: answered ${answer}, expected ${expected}`);
    if (performance.now() - since > 30_000) throw new Error(`${what}: no ${expected} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return round(Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024);
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function summary(runs: ColdRun[]): ColdSummary {
  const answered = runs.map((run) => run.answeredMs).filter((ms): ms is number => ms !== undefined);
  return {
    runs,
    readyMs: round(median(runs.map((run) => run.readyMs))),
    idleRssMiB: round(median(runs.map((run) => run.idleRssMiB))),
    ...(answered.length > 0 ? { answeredMs: round(median(answered)) } : {}),
  };
}

/** One start: spawn, first /readyz 200, RSS, and (authenticate) the first successful sign-in. */
async function start(
  command: string[],
  env: Record<string, string>,
  port: number,
  signIn: Record<string, string> | undefined,
  what: string,
): Promise<ColdRun> {
  const [file, ...args] = command as [string, ...string[]];
  const started = performance.now();
  const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  try {
    const readyMs = await until(child, started, () => status(port, 'GET', '/readyz'), 200, `${what} /readyz`);
    const idleRssMiB = rssMiB(child.pid as number);
    if (signIn === undefined) return { readyMs, idleRssMiB };
    // A real sign-in, asked as soon as /readyz said 200: the throttle, the credentials, one
    // bcrypt verify (on the pool's first thread, started by this job), the TOTP check and
    // the transaction that records the step.
    const answeredMs = await until(child, started, () => status(port, 'POST', '/', signIn), 200, `${what} sign-in`);
    return { readyMs, idleRssMiB, answeredMs };
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}${stderr === '' ? '' : `\n${stderr.slice(-2000)}`}`,
      { cause: error },
    );
  } finally {
    await kill(child);
  }
}

export async function measureColdStarts(options: ColdStartOptions): Promise<ColdStartResult> {
  const { root, runs, log } = options;
  const cli = path.join(root, 'node_modules/.bin/functions-framework');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: npm ci`);
  for (const fn of COLD_FUNCTIONS) {
    if (!existsSync(path.join(root, `dist/bundle/${fn}.js`)))
      throw new Error(`dist/bundle/${fn}.js is missing: run npm run build`);
  }
  const helloDir = mkdtempSync(path.join(os.tmpdir(), 'cofrap-bench-hello-'));
  const helloFile = path.join(helloDir, 'hello.js');
  writeFileSync(helloFile, "exports.hello = (req, res) => { res.send('hello'); };\n");
  const hello: ColdRun[] = [];
  const ours: Record<string, ColdRun[]> = Object.fromEntries(COLD_FUNCTIONS.map((fn) => [fn, []]));
  try {
    // Interleaved, one start of each per round: a change of the machine's load falls on all.
    for (let i = 0; i < runs; i++) {
      const helloPort = await freePort();
      hello.push(
        await start(
          [cli, '--target=hello', `--source=${helloFile}`, `--port=${helloPort}`],
          IMAGE_ENV,
          helloPort,
          undefined,
          'hello',
        ),
      );
      for (const fn of COLD_FUNCTIONS) {
        const port = await freePort();
        const env = { ...IMAGE_ENV, ...options.env({ FUNCTION_TARGET: fn, PORT: String(port) }) };
        const account = options.signIn.accounts[i];
        if (fn === 'authenticate' && account === undefined)
          throw new Error(`cold start: no account left for sign-in ${i + 1}`);
        // A step after the account's last one (the load's rule: now, or now + 1, never reused).
        const step = account === undefined ? 0 : Math.max(currentStep(), (account.lastStep ?? -1) + 1);
        const signIn =
          fn === 'authenticate' && account !== undefined
            ? {
                username: account.username,
                password: options.signIn.password,
                totp: codeAt(options.signIn.secret, step),
              }
            : undefined;
        ours[fn]?.push(await start([process.execPath, path.join(root, `dist/bundle/${fn}.js`)], env, port, signIn, fn));
      }
    }
  } finally {
    rmSync(helloDir, { recursive: true, force: true });
  }
  const result: ColdStartResult = {
    command:
      "node dist/bundle/<function>.js (the image's node dist/bin/serve.js), FUNCTION_TARGET, PORT, DATABASE_URL, SECRETS_DIR, BCRYPT_COST=12",
    floorCommand: 'node_modules/.bin/functions-framework --target=hello --source=<hello.js> --port=<port>',
    hello: summary(hello),
    functions: Object.fromEntries(Object.entries(ours).map(([fn, list]) => [fn, summary(list)])),
    answeredBy:
      "a real sign-in (200) as soon as /readyz said 200: one bcrypt verify; its own account each start (a copy of the bench's signed-in account)",
  };
  log(
    `cold start floor (hello): ${result.hello.readyMs} ms, ${result.hello.idleRssMiB} MiB; ` +
      Object.entries(result.functions)
        .map(([fn, s]) => `${fn} ${s.readyMs} ms, ${s.idleRssMiB} MiB`)
        .join('; '),
  );
  return result;
}

/** The table's lines: ours beside the floor, as ratios. */
export function coldStartLines(result: ColdStartResult, runs: number, verifyMs: number | undefined): string[] {
  const floor = result.hello;
  const lines = [
    `cold start (median of ${runs}; spawn of the image's command → first /readyz 200; idle RSS right after it; floor: a bare functions-framework hello started by its CLI):`,
    '',
    '| function | ready ms | floor ms | ratio | first sign-in answered ms | floor + 1 verify ms | idle RSS MiB | floor RSS MiB | ratio |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [fn, s] of Object.entries(result.functions)) {
    const answered = s.answeredMs === undefined ? '—' : String(s.answeredMs);
    const bound = s.answeredMs === undefined || verifyMs === undefined ? '—' : String(round(floor.readyMs + verifyMs));
    lines.push(
      `| ${fn} | ${s.readyMs} | ${floor.readyMs} | ${round(s.readyMs / floor.readyMs, 2)} | ${answered} | ${bound} | ${s.idleRssMiB} | ${floor.idleRssMiB} | ${round(s.idleRssMiB / floor.idleRssMiB, 2)} |`,
    );
  }
  lines.push('', `first sign-in answered: ${result.answeredBy}.`);
  return lines;
}

/** The targets of issue 18, judged on one run. */
export function coldStartTargets(
  result: ColdStartResult,
  verifyMs: number | undefined,
): Array<{ target: string; measured: string; met: boolean }> {
  const floor = result.hello;
  const targets: Array<{ target: string; measured: string; met: boolean }> = [];
  for (const [fn, s] of Object.entries(result.functions)) {
    targets.push({
      target: `cold start ${fn} (median) <= the bare hello's`,
      measured: `${s.readyMs} ms vs ${floor.readyMs} ms (${round(s.readyMs / floor.readyMs, 2)} x)`,
      met: s.readyMs <= floor.readyMs,
    });
    targets.push({
      target: `idle RSS ${fn} <= 1.2 x the bare hello's`,
      measured: `${s.idleRssMiB} MiB vs ${floor.idleRssMiB} MiB (${round(s.idleRssMiB / floor.idleRssMiB, 2)} x)`,
      met: s.idleRssMiB <= 1.2 * floor.idleRssMiB,
    });
    if (s.answeredMs !== undefined) {
      const bound = verifyMs === undefined ? Number.NaN : floor.readyMs + verifyMs;
      targets.push({
        target: `${fn}: spawn to first answered sign-in <= floor + one bcrypt verify`,
        measured: `${s.answeredMs} ms vs ${round(bound)} ms`,
        met: s.answeredMs <= bound,
      });
    }
  }
  return targets;
}
