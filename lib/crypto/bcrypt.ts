// Password hashing on a small pool of worker threads (one per core by default), so both
// cores are used under load and the event loop stays free for /healthz and light requests.
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Piscina } from 'piscina';
import type { BcryptTask } from './bcrypt-worker.js';
import type { BcryptEnginePreference } from './bcrypt-engine.js';

export class PasswordHasher {
  private readonly pool: Piscina<BcryptTask, string | boolean>;
  private dummyHash: Promise<string> | undefined;

  constructor(readonly cost: number, threads = 0, engine: BcryptEnginePreference = 'auto') {
    const size = threads > 0 ? threads : availableParallelism();
    this.pool = new Piscina({
      filename: new URL('./bcrypt-worker.js', import.meta.url).href,
      // One thread at start, the others as soon as two tasks are in flight: each thread's
      // start-up (~40-80 ms of CPU) competed with the process's own at every cold start.
      minThreads: 1,
      maxThreads: size,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData: { engine },
    });
  }

  async hash(password: string): Promise<string> {
    return (await this.pool.run({ op: 'hash', password, cost: this.cost })) as string;
  }

  async verify(password: string, hash: string): Promise<boolean> {
    return (await this.pool.run({ op: 'verify', password, hash })) as boolean;
  }

  /** Which bcrypt implementation the workers run: `native`, or `bcryptjs` (with the reason when native failed to load). */
  async engine(): Promise<string> {
    return (await this.pool.run({ op: 'engine' })) as string;
  }

  /**
   * Verifies against a hash of a random password at the configured cost, for callers whose
   * account does not exist or has no password: the answer takes as long as a real check.
   */
  async verifyDummy(password: string): Promise<false> {
    await this.verify(password, await this.dummy());
    return false;
  }

  /** Prepares the dummy hash ahead of the first unknown-user request. */
  async warmUp(): Promise<void> {
    await this.dummy();
  }

  // A verify costs what the cost field of the hash says, whatever its salt and checksum:
  // the dummy is a well-formed hash of a random password made at cost 4 (a millisecond),
  // relabelled with the configured cost. No password matches it (and verifyDummy answers
  // false anyway), and no quarter-second hash runs at start, when it competed with the
  // process's start-up for the CPU.
  private dummy(): Promise<string> {
    this.dummyHash ??= (async () => {
      const cheap = (await this.pool.run({ op: 'hash', password: randomBytes(18).toString('base64'), cost: 4 })) as string;
      if (!cheap.startsWith('$2b$04$')) throw new Error('unexpected bcrypt hash format');
      return `$2b$${String(this.cost).padStart(2, '0')}$${cheap.slice(7)}`;
    })();
    return this.dummyHash;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
