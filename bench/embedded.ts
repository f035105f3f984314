// --only=embedded: the embedded database (PGlite, what `npm start` runs on) under the two
// ways V8 can run its WASM: Liftoff only, its baseline compiler, which lib/db/embedded.ts
// sets before PGlite starts, and V8's default, which also recompiles the hot functions with
// TurboFan in background threads. The setting is process-wide and must come before the
// module is compiled, so each run is a process of its own (bench/embedded-queries.ts) on a
// fresh copy of a migrated data directory; the two settings alternate, three runs each,
// and the medians are kept. The target checks the reason for the setting: should a later
// Node make V8's default the cheaper one, this is where it shows.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Backend } from '../test/helpers/backends.js';
import { fmt, median } from './phase.js';
import type { PhaseReport } from './phase.js';

const SETTINGS = [
  { name: 'Liftoff only (lib/db/embedded.ts)', key: 'liftoffOnly', nodeArgs: ['--liftoff-only'] },
  { name: "V8's default", key: 'v8Default', nodeArgs: [] },
] as const;

export interface EmbeddedContext {
  root: string;
  /** Lookups per run. */
  queries: number;
  runs: number;
  say(line: string): void;
}

interface RunCpu {
  openCpuMs: number;
  queriesCpuMs: number;
}

function runOnce(context: EmbeddedContext, template: string, nodeArgs: readonly string[]): RunCpu {
  const copy = mkdtempSync(path.join(tmpdir(), 'cofrap-bench-embedded-'));
  try {
    execFileSync('cp', ['-R', template, path.join(copy, 'pgdata')]);
    const script = path.join(context.root, 'dist/bench/embedded-queries.js');
    const child = spawnSync(
      process.execPath,
      [...nodeArgs, script, path.join(copy, 'pgdata'), String(context.queries)],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    if (child.status !== 0)
      throw new Error(`embedded-queries failed (${child.status ?? child.signal}): ${child.stderr}`);
    return JSON.parse(child.stdout.trim()) as RunCpu;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

export async function embeddedPhase(context: EmbeddedContext): Promise<PhaseReport> {
  const backend = new Backend('pglite');
  const results = new Map<string, RunCpu[]>(SETTINGS.map((setting) => [setting.key, []]));
  try {
    await backend.prepare();
    const template = path.join(backend.env().PGLITE_DATA_DIR as string, 'pgdata');
    context.say(`embedded database: ${context.queries} lookups per process, ${context.runs} runs of each V8 setting`);
    for (let run = 0; run < context.runs; run++)
      for (const setting of SETTINGS) results.get(setting.key)?.push(runOnce(context, template, setting.nodeArgs));
  } finally {
    await backend.dispose();
  }
  const medians = Object.fromEntries(
    SETTINGS.map((setting) => {
      const runs = results.get(setting.key) ?? [];
      return [
        setting.key,
        {
          openCpuMs: median(runs.map((r) => r.openCpuMs)),
          queriesCpuMs: median(runs.map((r) => r.queriesCpuMs)),
          runs,
        },
      ];
    }),
  ) as Record<(typeof SETTINGS)[number]['key'], { openCpuMs: number; queriesCpuMs: number; runs: RunCpu[] }>;
  const { liftoffOnly, v8Default } = medians;
  return {
    name: 'embedded',
    lines: [
      `embedded database (PGlite), one process per run, median of ${context.runs}, CPU of every thread:`,
      ...SETTINGS.map(
        (setting) =>
          `  ${setting.name.padEnd(36)} open ${fmt(medians[setting.key].openCpuMs)} ms, ${context.queries} indexed lookups ${fmt(medians[setting.key].queriesCpuMs)} ms`,
      ),
    ],
    targets: () => [
      {
        target: "embedded database: its lookups cost less CPU Liftoff-only than with V8's default",
        measured: `${fmt(liftoffOnly.queriesCpuMs)} ms against ${fmt(v8Default.queriesCpuMs)} ms for ${context.queries} lookups`,
        met: liftoffOnly.queriesCpuMs < v8Default.queriesCpuMs,
      },
    ],
    figures: { queries: context.queries, ...medians },
  };
}
