// The bench's scale phase (--only=scale): authenticate served by 1, 2 and 4 processes, one
// function per process as the images run it, behind a small round-robin HTTP proxy in
// this process, as Knative's activator spreads requests over a Service's pods: at most
// containerConcurrency requests in flight per process (knative/base/authenticate.yaml),
// the rest waiting in the proxy, in order, as the activator buffers them. The same
// closed-loop load as the rest of the bench (bench/load.ts, its own process) drives each
// step; throughput and p99 per step show which bound is met first on this machine: the
// cores (bcrypt), the pool of each process, or PostgreSQL. Each process gets a pod's
// settings from knative/base/config.env (BCRYPT_THREADS, PG_POOL_MAX, BCRYPT_QUEUE_SECONDS)
// and reaches PostgreSQL directly.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';
import type { LoadResult, LoadSpec, Scenario } from './load.js';
import { fmt } from './phase.js';
import type { PhaseReport } from './phase.js';

/** How a pod runs authenticate (the images' command): the one place the bench says it. */
export const POD_FUNCTION = 'authenticate';
/** The image's `node dist/bin/serve.js` is this bundle (scripts/bundle.mjs, docs/images.md). */
export const POD_COMMAND = [`dist/bundle/${POD_FUNCTION}.js`] as const;
/** The pod settings a process takes from the base configuration of the manifests. */
const POD_SETTINGS = ['BCRYPT_THREADS', 'PG_POOL_MAX', 'BCRYPT_QUEUE_SECONDS'] as const;
export const SCALE_PROCESSES = [1, 2, 4] as const;
export const SCALE_CLIENTS = 16;

/** What the orchestrator (bench/run.ts) lends this phase. */
export interface ScaleTools {
  root: string;
  /** The environment of a server of ours, given its own settings. */
  serverEnv(extra: Record<string, string>): Record<string, string>;
  freePort(): Promise<number>;
  waitFor(url: string, child: ChildProcess, since: number, timeoutMs: number): Promise<number>;
  stop(child: ChildProcess): Promise<void>;
  /** A load spec at `clients` clients for the bench's usual warm-up and duration. */
  loadSpec(url: string, expectStatus: number, clients: number, scenario: Scenario): LoadSpec;
  runLoad(spec: LoadSpec): Promise<LoadResult>;
  /** Fresh sign-in accounts for one step (each (account, TOTP step) is used once). */
  signInScenario(): Scenario;
  say(line: string): void;
}

export interface ScaleStep {
  processes: number;
  result: LoadResult;
}

export interface ScaleRun {
  command: string;
  settings: Record<string, string>;
  containerConcurrency: number;
  clients: number;
  steps: ScaleStep[];
}

/** The pod settings of knative/base/config.env, as the ConfigMap gives them to each pod. */
export function podSettings(root: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of readFileSync(path.join(root, 'knative/base/config.env'), 'utf8').split(/\r?\n/)) {
    const equals = line.indexOf('=');
    if (line.startsWith('#') || equals < 0) continue;
    const key = line.slice(0, equals).trim();
    if ((POD_SETTINGS as readonly string[]).includes(key)) settings[key] = line.slice(equals + 1).trim();
  }
  for (const key of POD_SETTINGS)
    if (settings[key] === undefined) throw new Error(`knative/base/config.env sets no ${key}`);
  return settings;
}

/** authenticate's containerConcurrency: how many requests Knative lets one pod hold. */
export function containerConcurrency(root: string): number {
  const service = parse(readFileSync(path.join(root, 'knative/base/authenticate.yaml'), 'utf8')) as {
    spec?: { template?: { spec?: { containerConcurrency?: unknown } } };
  };
  const value = service.spec?.template?.spec?.containerConcurrency;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new Error('knative/base/authenticate.yaml sets no containerConcurrency');
  return value;
}

/**
 * A round-robin HTTP proxy over `backends`, at most `perBackend` requests in flight on
 * each: a request goes to the next backend in turn that has room, or waits, in order, for
 * one. Bodies and answers are streamed.
 */
async function roundRobinProxy(
  backends: string[],
  perBackend: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true });
  const inFlight = backends.map(() => 0);
  const waiting: Array<(backend: number) => void> = [];
  let next = 0;
  const freeBackend = (): number | undefined => {
    for (let tried = 0; tried < backends.length; tried++) {
      const candidate = next++ % backends.length;
      if ((inFlight[candidate] as number) < perBackend) return candidate;
    }
    return undefined;
  };
  const release = (backend: number): void => {
    inFlight[backend] = (inFlight[backend] as number) - 1;
    const resume = waiting.shift();
    if (resume === undefined) return;
    inFlight[backend] = inFlight[backend] + 1;
    resume(backend);
  };
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, backend: number): void => {
    const target = new URL(backends[backend] as string);
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      release(backend);
    };
    const upstream = http.request(
      { agent, host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', done);
        answer.on('error', done);
      },
    );
    upstream.on('error', (error) => {
      done();
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${error.message}`);
    });
    req.pipe(upstream);
  };
  const server = http.createServer((req, res) => {
    const backend = freeBackend();
    if (backend !== undefined) {
      inFlight[backend] = (inFlight[backend] as number) + 1;
      forward(req, res, backend);
    } else {
      waiting.push((chosen) => forward(req, res, chosen));
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function startProcesses(
  tools: ScaleTools,
  count: number,
  env: Record<string, string>,
): Promise<{ urls: string[]; children: ChildProcess[] }> {
  const children: ChildProcess[] = [];
  const urls: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const port = await tools.freePort();
      const child = spawn(process.execPath, [...POD_COMMAND], {
        cwd: tools.root,
        env: tools.serverEnv({ ...env, FUNCTION_TARGET: POD_FUNCTION, PORT: String(port), LOG_LEVEL: 'warn' }),
        stdio: 'ignore',
      });
      children.push(child);
      const url = `http://127.0.0.1:${port}`;
      await tools.waitFor(`${url}/readyz`, child, performance.now(), 30_000);
      urls.push(url);
    }
  } catch (error) {
    await Promise.all(children.map((child) => tools.stop(child)));
    throw error;
  }
  return { urls, children };
}

/** The phase as bench/run.ts prints and records it; it has no target: its figures locate the bound. */
export async function scalePhase(
  tools: ScaleTools,
  env: Record<string, string>,
  command: string,
): Promise<PhaseReport> {
  const run = await runScalePhase(tools, env, command);
  return { name: 'scale', lines: ['', ...scaleTable(run), ''], targets: () => [], figures: { ...run } };
}

export async function runScalePhase(
  tools: ScaleTools,
  env: Record<string, string>,
  command: string,
): Promise<ScaleRun> {
  const settings = podSettings(tools.root);
  const perProcess = containerConcurrency(tools.root);
  const steps: ScaleStep[] = [];
  for (const processes of SCALE_PROCESSES) {
    tools.say(`scale: ${POD_FUNCTION} x${processes} process(es) behind a round-robin proxy, ${SCALE_CLIENTS} clients`);
    const { urls, children } = await startProcesses(tools, processes, { ...env, ...settings });
    const proxy = await roundRobinProxy(urls, perProcess);
    try {
      const result = await tools.runLoad(tools.loadSpec(`${proxy.url}/`, 200, SCALE_CLIENTS, tools.signInScenario()));
      steps.push({ processes, result });
    } finally {
      await proxy.close();
      await Promise.all(children.map((child) => tools.stop(child)));
    }
  }
  return { command, settings, containerConcurrency: perProcess, clients: SCALE_CLIENTS, steps };
}

/** The phase's table, with the command that made it. */
export function scaleTable(run: ScaleRun): string[] {
  const single = run.steps.find((step) => step.processes === 1)?.result.throughput;
  const settings = Object.entries(run.settings)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  return [
    `scale: ${POD_FUNCTION} (node ${POD_COMMAND.join(' ')}, ${settings} each) behind a round-robin proxy holding at most ${run.containerConcurrency} requests per process (containerConcurrency), ${run.clients} clients, closed loop; made by: ${run.command}`,
    '',
    '| processes | req/s | vs 1 process | p50 ms | p99 ms | shed (503) | errors |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...run.steps.map(
      ({ processes, result }) =>
        `| ${processes} | ${fmt(result.throughput, 2)} | ${single === undefined || single === 0 ? '—' : `${fmt(result.throughput / single, 2)} x`} | ${fmt(result.latencyMs?.p50, 1)} | ${fmt(result.latencyMs?.p99, 1)} | ${result.shed} | ${result.errors} |`,
    ),
  ];
}
