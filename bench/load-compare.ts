// --only=load-compare (never part of the full run): the same scenario, same clients, same
// warm-up and duration, driven once by bench/load.ts and once by autocannon
// (bench/autocannon-load.ts), alternately, twice each; both in their own process. It is
// the measurement behind bench/README.md's "Why our own load generator".
import type { LoadResult, LoadSpec, Scenario } from './load.js';
import { fmt } from './phase.js';
import type { PhaseReport } from './phase.js';
import type { AutocannonResult } from './autocannon-load.js';

export interface LoadCompareContext {
  url: (fn: string) => string;
  /** One pending account per client, with its enrollment token (generate-2fa). */
  enrolling: Array<{ username: string; enrollmentToken: string }>;
  clients: number;
  runLoad(spec: LoadSpec, script: 'load' | 'autocannon-load'): Promise<LoadResult>;
  loadSpec(url: string, expected: number, clients: number, scenario: Scenario): LoadSpec;
  say(line: string): void;
}

interface CompareRow {
  fn: string;
  generator: 'load.ts' | 'autocannon';
  round: number;
  result: LoadResult;
}

export async function loadComparePhase(context: LoadCompareContext): Promise<PhaseReport> {
  const scenarios: Array<{ fn: string; expected: number; scenario: (round: number) => Scenario }> = [
    { fn: 'generate-2fa', expected: 200, scenario: () => ({ kind: 'enroll', accounts: context.enrolling }) },
    {
      fn: 'generate-password',
      expected: 201,
      scenario: (round) => ({ kind: 'create', prefix: `bench-compare-${round}` }),
    },
  ];
  const rows: CompareRow[] = [];
  for (const { fn, expected, scenario } of scenarios) {
    for (const round of [1, 2]) {
      for (const generator of ['load.ts', 'autocannon'] as const) {
        context.say(`load-compare: ${fn}, ${context.clients} clients, round ${round}: ${generator}`);
        const spec = context.loadSpec(context.url(fn), expected, context.clients, scenario(round));
        const result = await context.runLoad(spec, generator === 'load.ts' ? 'load' : 'autocannon-load');
        rows.push({ fn, generator, round, result });
      }
    }
  }
  const lines = [
    `load generators side by side (${context.clients} clients, closed loop; p50/p99 in ms over successful answers, summarised alike; autocannon's own histogram in brackets, whole ms):`,
    '| function | round | generator | req/s | p50 | p99 | errors | client CPU ms | autocannon own req/s, p50, p99 |',
    '|---|---:|---|---:|---:|---:|---:|---:|---|',
    ...rows.map(({ fn, generator, round, result }) => {
      const own = (result as Partial<AutocannonResult>).own;
      return `| ${fn} | ${round} | ${generator} | ${fmt(result.throughput, 2)} | ${fmt(result.latencyMs?.p50, 1)} | ${fmt(result.latencyMs?.p99, 1)} | ${result.errors} | ${fmt(result.clientCpuMs)} | ${own === undefined ? '—' : `${fmt(own.throughput, 2)}, ${own.p50}, ${own.p99}`} |`;
    }),
    '',
  ];
  return { name: 'loadCompare', lines, targets: () => [], figures: { rows } };
}
