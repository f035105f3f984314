// Runs inside a worker thread: bcrypt at cost 12 takes a quarter of a second of pure
// JavaScript, which must not stall the event loop that answers other requests.
import bcrypt from 'bcryptjs';

export type BcryptTask =
  | { op: 'hash'; password: string; cost: number }
  | { op: 'verify'; password: string; hash: string };

export default function runBcryptTask(task: BcryptTask): string | boolean {
  if (task.op === 'hash') return bcrypt.hashSync(task.password, task.cost);
  try {
    return bcrypt.compareSync(task.password, task.hash);
  } catch {
    // A malformed stored hash verifies nothing.
    return false;
  }
}
