// The load generator of `npm run bench`, run as its own process so that driving the load
// does not share an event loop with the servers or the orchestrator. It reads one LoadSpec
// as JSON on stdin, keeps `concurrency` clients busy (closed loop: each sends its next
// request when its previous answer is in) for warm-up + duration, and writes one
// LoadResult as JSON on stdout. Every request has a time limit, so the whole run is
// bounded by warm-up + duration + timeout.
import http from 'node:http';
import { codeAt, currentStep } from '../test/helpers/totp.js';

/** What one request sends: a body, and how to tell a success. */
export type Scenario =
  /** generate-password with a fresh username per request (ours: 201; the seed: 200 without "error"). */
  | { kind: 'create'; prefix: string }
  /** generate-2fa, each client on its own account (ours re-enrols inside the enrollment window; the seed updates the row). */
  | { kind: 'enroll'; accounts: Array<{ username: string; enrollmentToken?: string }> }
  /** authenticate with valid credentials: each (account, TOTP step) once, one request per account at a time. */
  | {
      kind: 'sign-in';
      password: string;
      secret: string;
      accounts: Array<{ username: string; lastStep: number | null }>;
    };

export interface LoadSpec {
  url: string;
  /** `ours` succeeds on `expectStatus`; `seed` (whose watchdog always answers 200) on a JSON body without "error". */
  side: 'ours' | 'seed';
  expectStatus: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  timeoutMs: number;
  scenario: Scenario;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

export interface LoadResult {
  concurrency: number;
  /** Measured window, seconds (warm-up excluded). */
  windowSeconds: number;
  /** Successful answers completed inside the window. */
  ok: number;
  /** Failed answers (wrong status, error body, network error, timeout) completed inside the window. */
  errors: number;
  errorSamples: string[];
  /** Successful answers per second inside the window. */
  throughput: number;
  /** Milliseconds, over the successful answers of the window; undefined when there were none. */
  latencyMs: LatencySummary | undefined;
  warmupAnswers: number;
  /** Answers that arrived after the window closed (not counted). */
  lateAnswers: number;
  /** sign-in only: times a client found no account with a usable TOTP step and waited. */
  starved: number;
  /**
   * Answers 503 with Retry-After inside the window: the service shed the request before
   * doing anything (contract §6, the bounded bcrypt queue). Not errors: the client waits
   * Retry-After, as a real one should, and its (account, step) stays unused.
   */
  shed: number;
  /** CPU time the load process itself used (user + system, ms, warm-up included): what the client takes from the machine. */
  clientCpuMs?: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarise(values: number[]): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const round = (value: number): number => Math.round(value * 10) / 10;
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    mean: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length),
    min: round(sorted[0] as number),
    max: round(sorted[sorted.length - 1] as number),
  };
}

export interface Answer {
  status: number;
  text: string;
  /** Seconds, from a 503's Retry-After. */
  retryAfter: number | undefined;
}

/** One POST of a JSON body on a keep-alive agent, with a time limit. */
export function post(agent: http.Agent, url: URL, body: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        const retryAfter = Number.parseInt(String(response.headers['retry-after'] ?? ''), 10);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined,
          }),
        );
        response.on('error', reject);
      },
    );
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

function succeeded(spec: LoadSpec, answer: Answer): boolean {
  if (spec.side === 'ours') return answer.status === spec.expectStatus;
  if (answer.status !== 200) return false;
  try {
    const body = JSON.parse(answer.text) as Record<string, unknown>;
    return typeof body === 'object' && body !== null && !('error' in body);
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const start = performance.now();
  const windowStart = start + spec.warmupMs;
  const windowEnd = windowStart + spec.durationMs;
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let warmupAnswers = 0;
  let lateAnswers = 0;
  let starved = 0;
  let shed = 0;
  let sequence = 0;
  const scenario = spec.scenario;
  const busy = new Set<number>();
  let cursor = 0;

  /** The next body for `client`, or undefined when sign-in has no usable (account, step) right now. */
  const nextBody = (client: number): { body: string; release?: () => void; unused?: () => void } | undefined => {
    switch (scenario.kind) {
      case 'create':
        return { body: JSON.stringify({ username: `${scenario.prefix}-${process.pid}-${client}-${sequence++}` }) };
      case 'enroll': {
        const account = scenario.accounts[client % scenario.accounts.length];
        if (account === undefined) throw new Error('enroll needs at least one account');
        return {
          body: JSON.stringify(
            account.enrollmentToken === undefined
              ? { username: account.username }
              : { username: account.username, enrollment_token: account.enrollmentToken },
          ),
        };
      }
      case 'sign-in': {
        // Steps now and now+1 only: a code is checked after its bcrypt verify, which may wait
        // seconds in the queue under load, and both stay valid for a whole step after that.
        const now = currentStep();
        for (let tried = 0; tried < scenario.accounts.length; tried++) {
          const index = cursor++ % scenario.accounts.length;
          const account = scenario.accounts[index] as { username: string; lastStep: number | null };
          if (busy.has(index)) continue;
          const before = account.lastStep;
          const step = Math.max((before ?? now - 2) + 1, now);
          if (step > now + 1) continue;
          account.lastStep = step;
          busy.add(index);
          return {
            body: JSON.stringify({
              username: account.username,
              password: scenario.password,
              totp: codeAt(scenario.secret, step),
            }),
            release: () => busy.delete(index),
            // A shed request never reached the account: its step may be used again.
            unused: () => {
              if (account.lastStep === step) account.lastStep = before;
            },
          };
        }
        return undefined;
      }
    }
  };

  const client = async (index: number): Promise<void> => {
    while (performance.now() < windowEnd) {
      const next = nextBody(index);
      if (next === undefined) {
        starved++;
        await sleep(50);
        continue;
      }
      const sent = performance.now();
      let ok = false;
      let failure = '';
      let retryAfter: number | undefined;
      try {
        const answer = await post(agent, url, next.body, spec.timeoutMs);
        ok = succeeded(spec, answer);
        if (!ok) failure = `${answer.status} ${answer.text.slice(0, 160)}`;
        if (spec.side === 'ours' && answer.status === 503 && answer.retryAfter !== undefined) {
          retryAfter = answer.retryAfter;
          next.unused?.();
        }
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      } finally {
        next.release?.();
      }
      const done = performance.now();
      if (retryAfter !== undefined) {
        if (done >= windowStart && done <= windowEnd) shed++;
        await sleep(Math.min(retryAfter * 1000, Math.max(0, windowEnd - done)));
      } else if (done < windowStart) {
        warmupAnswers++;
      } else if (done > windowEnd) {
        lateAnswers++;
      } else if (ok) {
        latencies.push(done - sent);
      } else {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(failure);
      }
    }
  };

  await Promise.all(Array.from({ length: spec.concurrency }, (_, index) => client(index)));
  agent.destroy();
  const windowSeconds = spec.durationMs / 1000;
  return {
    concurrency: spec.concurrency,
    windowSeconds,
    ok: latencies.length,
    errors,
    errorSamples,
    throughput: Math.round((latencies.length / windowSeconds) * 100) / 100,
    latencyMs: summarise(latencies),
    warmupAnswers,
    lateAnswers,
    starved,
    shed,
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A load process's main: one LoadSpec as JSON on stdin, the result (with the CPU time this
 * process used) as one JSON line on stdout. Shared by this generator and autocannon's.
 */
export async function serveLoadProcess(run: (spec: LoadSpec) => Promise<LoadResult>): Promise<void> {
  const spec = JSON.parse(await readStdin()) as LoadSpec;
  const result = await run(spec);
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ ...result, clientCpuMs: Math.round((cpu.user + cpu.system) / 1000) }) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) await serveLoadProcess(runLoad);
