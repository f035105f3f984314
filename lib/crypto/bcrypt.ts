// Password hashing on a small pool of worker threads (one per core by default), so both
// cores are used under load and the event loop stays free for /healthz and light requests.
// The queue in front of the threads is bounded (lib/crypto/bcrypt-queue.ts), and a job
// whose request is over (its client gone) is dropped rather than computed.
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Piscina } from 'piscina';
import type { BcryptResult, BcryptTask } from './bcrypt-worker.js';
import type { BcryptEnginePreference } from './bcrypt-engine.js';
import { BcryptQueue } from './bcrypt-queue.js';
import type { QueueFigures } from './bcrypt-queue.js';
import { createLogger, describeError } from '../log.js';
import type { Logger } from '../log.js';

export interface HasherOptions {
  /** BCRYPT_QUEUE_SECONDS: the most queued work a new request may wait behind. */
  queueSeconds?: number;
  log?: Logger;
}

// The warm-up measures a job at this cost and scales it up: each cost step doubles
// bcrypt's work, and at cost 8 the fixed part and a first call's overheads are already
// small (measured: docs/operations.md, "Bounded bcrypt queue"; at cost 4 a thread's first call came
// out 1.6 times too slow once scaled with the native engine, 20 times with bcryptjs). It runs WARM_UP_DELAY_MS after start, off the start-up's
// path: even 15 ms on a worker thread competed with the process's start for the CPU.
const WARM_UP_COST = 8;
const WARM_UP_DELAY_MS = 1000;
// Until a job is measured: this project's measurement of the native engine on the bench
// machine (about 50 µs × 2^cost, 206 ms at cost 12).
const PRIOR_SECONDS_PER_UNIT = 0.00005;

function createPool(size: number, engine: BcryptEnginePreference): Piscina<BcryptTask, BcryptResult> {
  return new Piscina({
    filename: new URL('./bcrypt-worker.js', import.meta.url).href,
    // No thread until the first job, warm() or startHasherThreadEarly(), then one per job
    // in flight up to the size: a thread costs ~40-80 ms of CPU to start and ~7 MiB, which
    // a server whose requests never hash (generate-2fa) should not pay (docs/images.md).
    minThreads: 0,
    maxThreads: size,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { engine },
  });
}

const poolSize = (threads: number): number => (threads > 0 ? threads : availableParallelism());

/** A pool whose first thread began to start before the process's hasher was made. */
interface EarlyPool {
  pool: Piscina<BcryptTask, BcryptResult>;
  size: number;
  engine: BcryptEnginePreference;
  /** Settles when that thread has run its first job. */
  started: Promise<void>;
}
let early: EarlyPool | undefined;

/**
 * Starts the first bcrypt thread now, before the rest of the server has even loaded (a
 * thread takes some 60 ms to start, on another core): what a hashing function's bundle
 * does first (bin/early-hasher.ts). The PasswordHasher made later with the same settings
 * takes this pool over; one made with other settings stops it.
 */
export function startHasherThreadEarly(threads: number, engine: BcryptEnginePreference): void {
  if (early !== undefined) return;
  const size = poolSize(threads);
  const pool = createPool(size, engine);
  // The cheapest job there is: it makes the pool start its first thread and load the engine.
  const started = pool.run({ op: 'engine' }).then(
    () => undefined,
    () => undefined,
  );
  early = { pool, size, engine, started };
}

function takeEarlyPool(size: number, engine: BcryptEnginePreference): EarlyPool | undefined {
  const taken = early;
  early = undefined;
  if (taken === undefined) return undefined;
  if (taken.size === size && taken.engine === engine) return taken;
  void taken.pool.destroy();
  return undefined;
}

export class PasswordHasher {
  private readonly pool: Piscina<BcryptTask, BcryptResult>;
  private readonly queue: BcryptQueue;
  private readonly log: Logger;
  private dummyHash: Promise<string> | undefined;
  /** Settled once the first job may run (see start()); undefined before the first job. */
  private firstJobReady: Promise<void> | undefined;
  /**
   * Settled once a thread started early (startHasherThreadEarly) has run its first job:
   * a job sent before would find it busy and make the pool start a second thread.
   */
  private readonly earlyThreadStarted: Promise<void>;

  constructor(
    readonly cost: number,
    threads = 0,
    engine: BcryptEnginePreference = 'auto',
    options: HasherOptions = {},
  ) {
    const size = poolSize(threads);
    const taken = takeEarlyPool(size, engine);
    this.pool = taken?.pool ?? createPool(size, engine);
    this.earlyThreadStarted = taken?.started ?? Promise.resolve();
    this.queue = new BcryptQueue(size, options.queueSeconds ?? 10, PRIOR_SECONDS_PER_UNIT * 2 ** cost);
    this.log = options.log ?? createLogger({ component: 'bcrypt' });
  }

  /**
   * Admits a request's `jobs` bcrypt jobs before it changes anything, or throws
   * QueueFullError (answered 503 with Retry-After). Its jobs then run whatever the queue
   * does meanwhile; a job submitted without admission is admitted on its own.
   */
  admit(signal: AbortSignal, jobs: number): void {
    this.queue.admit(signal, jobs);
  }

  /**
   * One job on the pool. With a signal, the job counts against the bound and is dropped
   * when the signal aborts (the request is over): removed from the queue if it waits,
   * its thread stopped (and replaced) if it runs.
   */
  private async run(task: BcryptTask, signal?: AbortSignal): Promise<string | boolean> {
    await this.start();
    this.queue.enqueue(signal);
    let computeSeconds: number | undefined;
    try {
      const result = await this.pool.run(task, signal === undefined ? {} : { signal });
      computeSeconds = result.ms / 1000;
      return result.value;
    } finally {
      this.queue.finished(computeSeconds);
      this.log.debug('bcrypt_job', {
        op: task.op,
        outcome: computeSeconds === undefined ? 'dropped' : 'computed',
        ...this.figures(),
      });
    }
  }

  async hash(password: string, signal?: AbortSignal): Promise<string> {
    return (await this.run({ op: 'hash', password, cost: this.cost }, signal)) as string;
  }

  async verify(password: string, hash: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.run({ op: 'verify', password, hash }, signal)) as boolean;
  }

  /** Which bcrypt implementation the workers run: `native`, or `bcryptjs` (with the reason when native failed to load). */
  async engine(): Promise<string> {
    return (await this.pool.run({ op: 'engine' })).value as string;
  }

  /**
   * Verifies against a hash of a random password at the configured cost, for callers whose
   * account does not exist or has no password: the answer takes as long as a real check.
   */
  async verifyDummy(password: string, signal?: AbortSignal): Promise<false> {
    await this.verify(password, await this.dummy(), signal);
    return false;
  }

  /**
   * On the first job: the dummy hash is made first (a cost-4 hash, a millisecond; the job
   * waits for it, so an unknown user's first sign-in costs what a known one's does, and the
   * first job does not start a second thread beside it). A moment later, off that job's
   * path, a job is measured for the queue's estimate and the engine is logged. Nothing of
   * it runs at the process's start.
   */
  private start(): Promise<void> {
    if (this.firstJobReady !== undefined) return this.firstJobReady;
    setTimeout(() => {
      void this.measureWarmUp();
      this.engine().then(
        (engine) => this.log.info('bcrypt_engine', { engine, cost: this.cost }),
        (error: unknown) => this.log.error('bcrypt_engine_failed', describeError(error)),
      );
    }, WARM_UP_DELAY_MS).unref();
    this.firstJobReady = this.dummy().then(
      () => this.log.debug('bcrypt_thread_ready', { since_process_start_ms: Math.round(performance.now()) }),
      (error: unknown) => this.log.error('dummy_hash_failed', describeError(error)),
    );
    return this.firstJobReady;
  }

  /**
   * Starts the first thread now, without a job: for a server whose first request is likely a
   * bcrypt job (a cold start is woken by one), so that the thread's start-up overlaps the
   * process's own instead of adding to the first answer.
   */
  warm(): void {
    void this.start();
  }

  /** One hash at WARM_UP_COST, timed on its thread and scaled to the configured cost. */
  private async measureWarmUp(): Promise<void> {
    try {
      const probe = await this.pool.run({
        op: 'hash',
        password: randomBytes(18).toString('base64'),
        cost: WARM_UP_COST,
      });
      this.queue.observe((probe.ms / 1000) * 2 ** (this.cost - WARM_UP_COST));
      this.log.info('bcrypt_queue', {
        warm_up_cost: WARM_UP_COST,
        warm_up_ms: Math.round(probe.ms * 10) / 10,
        ...this.figures(),
      });
    } catch {
      // the pool closed first (a process stopping right after start): nothing to measure
    }
  }

  /** The queue's figures: the job estimate, what waits, and the counts since start. */
  figures(): QueueFigures {
    return this.queue.figures();
  }

  // A verify costs what the cost field of the hash says, whatever its salt and checksum:
  // the dummy is a well-formed hash of a random password made at cost 4 (a millisecond),
  // relabelled with the configured cost. No password matches it (and verifyDummy answers
  // false anyway), and no quarter-second hash runs at start, when it competed with the
  // process's start-up for the CPU.
  private dummy(): Promise<string> {
    this.dummyHash ??= (async () => {
      await this.earlyThreadStarted;
      const cheap = (await this.pool.run({ op: 'hash', password: randomBytes(18).toString('base64'), cost: 4 })).value;
      if (typeof cheap !== 'string' || !cheap.startsWith('$2b$04$')) throw new Error('unexpected bcrypt hash format');
      return `$2b$${String(this.cost).padStart(2, '0')}$${cheap.slice(7)}`;
    })();
    return this.dummyHash;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
