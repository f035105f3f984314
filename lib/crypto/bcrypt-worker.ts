// Runs inside a worker thread: bcrypt at cost 12 takes a fifth to a quarter of a second of
// CPU, which must not stall the event loop that answers other requests. The engine
// (native, or bcryptjs where the binding cannot load) is chosen once per worker.
import { performance } from 'node:perf_hooks';
import { workerData } from 'piscina';
import { loadBcryptEngine } from './bcrypt-engine.js';
import type { BcryptEnginePreference } from './bcrypt-engine.js';

export type BcryptTask =
  { op: 'hash'; password: string; cost: number } | { op: 'verify'; password: string; hash: string } | { op: 'engine' };

/**
 * What a job answers, with the time its computation took on this thread: the main thread
 * sees only the time from submission to answer, queueing included, and the queue's bound
 * needs the cost of the work itself (lib/crypto/bcrypt-queue.ts).
 */
export interface BcryptResult {
  value: string | boolean;
  ms: number;
}

const preference = (workerData as { engine?: BcryptEnginePreference } | undefined)?.engine ?? 'auto';
const engine = loadBcryptEngine(preference);

function compute(task: BcryptTask): string | boolean {
  if (task.op === 'engine')
    return engine.fallbackReason === undefined
      ? engine.name
      : `${engine.name} (native unavailable: ${engine.fallbackReason})`;
  if (task.op === 'hash') return engine.hash(task.password, task.cost);
  try {
    return engine.verify(task.password, task.hash);
  } catch {
    // A malformed stored hash verifies nothing.
    return false;
  }
}

export default function runBcryptTask(task: BcryptTask): BcryptResult {
  const started = performance.now();
  const value = compute(task);
  return { value, ms: performance.now() - started };
}
