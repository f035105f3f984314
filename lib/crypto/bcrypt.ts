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
      minThreads: size,
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
    this.dummyHash ??= this.hash(randomBytes(18).toString('base64'));
    await this.verify(password, await this.dummyHash);
    return false;
  }

  /** Prepares the dummy hash ahead of the first unknown-user request. */
  async warmUp(): Promise<void> {
    this.dummyHash ??= this.hash(randomBytes(18).toString('base64'));
    await this.dummyHash;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
