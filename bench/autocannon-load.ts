// The same closed-loop load as bench/load.ts, driven by autocannon instead, for the
// side-by-side of `--only=load-compare` (bench/load-compare.ts). Run as its own process,
// like load.ts: reads one LoadSpec as JSON on stdin, writes one LoadResult as JSON on
// stdout, plus autocannon's own summary. Only the scenarios autocannon can express are
// accepted: 'create' (a fresh username per request, from setupRequest) and 'enroll' (each
// connection re-sends its own account's body). 'sign-in' is refused: see bench/README.md,
// "Why our own load generator".
import autocannon from 'autocannon';
import type { Client, Request } from 'autocannon';
import { serveLoadProcess, summarise } from './load.js';
import type { LoadResult, LoadSpec } from './load.js';

export interface AutocannonResult extends LoadResult {
  /** autocannon's own figures for the measured run: 2xx answers/s and its latency histogram (ms, 1 ms resolution). */
  own: {
    throughput: number;
    p50: number;
    p99: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    statusCodes: Record<string, number>;
  };
}

/** One sequence for the warm-up and the measured run: a username is never sent twice. */
let sequence = 0;

function bodies(spec: LoadSpec): { setupClient?: (client: Client) => void; requests?: Request[] } {
  const scenario = spec.scenario;
  if (scenario.kind === 'create') {
    return {
      requests: [
        {
          method: 'POST',
          setupRequest: (request: Request) => ({
            ...request,
            body: JSON.stringify({ username: `${scenario.prefix}-ac${process.pid}-${sequence++}` }),
          }),
        },
      ],
    };
  }
  if (scenario.kind === 'enroll') {
    let connection = 0;
    return {
      setupClient: (client: Client) => {
        const account = scenario.accounts[connection++ % scenario.accounts.length];
        if (account === undefined) throw new Error('enroll needs at least one account');
        client.setBody(
          JSON.stringify(
            account.enrollmentToken === undefined
              ? { username: account.username }
              : { username: account.username, enrollment_token: account.enrollmentToken },
          ),
        );
      },
    };
  }
  throw new Error(`autocannon cannot drive the ${scenario.kind} scenario (see bench/README.md)`);
}

function run(spec: LoadSpec, durationMs: number, latencies?: number[]): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        connections: spec.concurrency,
        duration: durationMs / 1000,
        timeout: spec.timeoutMs / 1000,
        ...bodies(spec),
      },
      (error, result) => (error === null || error === undefined ? resolve(result) : reject(error as Error)),
    );
    // The raw response times, to summarise them exactly as load.ts does (autocannon's own
    // histogram keeps whole milliseconds).
    if (latencies !== undefined)
      instance.on('response', (_client: Client, status: number, _bytes: number, responseTime: number) => {
        if (status === spec.expectStatus) latencies.push(responseTime);
      });
  });
}

export async function runAutocannon(spec: LoadSpec): Promise<AutocannonResult> {
  if (spec.side !== 'ours') throw new Error('only our side: the seed answers 200 to errors, which needs verifyBody');
  // autocannon has no warm-up window: a run of its own first, on fresh connections.
  const warmup = spec.warmupMs > 0 ? await run(spec, spec.warmupMs) : undefined;
  const latencies: number[] = [];
  const result = await run(spec, spec.durationMs, latencies);
  const windowSeconds = spec.durationMs / 1000;
  const stats: Record<string, { count?: number } | undefined> = result.statusCodeStats ?? {};
  const ok = stats[String(spec.expectStatus)]?.count ?? 0;
  const answered = Object.values(stats).reduce((sum, entry) => sum + (entry?.count ?? 0), 0);
  return {
    concurrency: spec.concurrency,
    windowSeconds,
    ok,
    errors: answered - ok + result.errors,
    errorSamples: [],
    throughput: Math.round((ok / windowSeconds) * 100) / 100,
    latencyMs: summarise(latencies),
    warmupAnswers: warmup?.requests.total ?? 0,
    lateAnswers: 0,
    starved: 0,
    shed: stats['503']?.count ?? 0,
    own: {
      throughput: Math.round((result['2xx'] / result.duration) * 100) / 100,
      p50: result.latency.p50,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCodes: Object.fromEntries(Object.entries(stats).map(([status, entry]) => [status, entry?.count ?? 0])),
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await serveLoadProcess(runAutocannon);
