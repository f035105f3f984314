// Runs inside a worker thread: bcrypt at cost 12 takes a fifth to a quarter of a second of
// CPU, which must not stall the event loop that answers other requests. The engine
// (native, or bcryptjs where the binding cannot load) is chosen once per worker.
import { workerData } from 'piscina';
import { loadBcryptEngine } from './bcrypt-engine.js';
import type { BcryptEnginePreference } from './bcrypt-engine.js';

export type BcryptTask =
  | { op: 'hash'; password: string; cost: number }
  | { op: 'verify'; password: string; hash: string }
  | { op: 'engine' };

const preference = ((workerData as { engine?: BcryptEnginePreference } | undefined)?.engine ?? 'auto') as BcryptEnginePreference;
const engine = loadBcryptEngine(preference);

export default function runBcryptTask(task: BcryptTask): string | boolean {
  if (task.op === 'engine') return engine.fallbackReason === undefined ? engine.name : `${engine.name} (native unavailable: ${engine.fallbackReason})`;
  if (task.op === 'hash') return engine.hash(task.password, task.cost);
  try {
    return engine.verify(task.password, task.hash);
  } catch {
    // A malformed stored hash verifies nothing.
    return false;
  }
}
