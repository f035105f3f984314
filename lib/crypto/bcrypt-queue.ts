// The bound on queued bcrypt work (contract §6). A bcrypt job costs a fixed amount of CPU
// (a fifth of a second at cost 12), so a queue of N jobs is N × job / threads seconds of
// waiting for the next request: beyond BCRYPT_QUEUE_SECONDS, answering 503 at once serves
// the client better than an answer that comes after its own timeout, and keeps the
// process from spending minutes on work nobody waits for (100 requests abandoned in 20 ms
// once held a real sign-in for 16.5 s).
//
// The job time is measured, not configured: a warm-up job shortly after start, and the
// jobs the workers report (their compute time alone, so it follows the machine's real
// speed, other processes' load included), averaged.
//
// A request is admitted once, for all its jobs (authenticate runs two verifications),
// before it changes anything: its jobs are reserved, so that many requests admitted in
// the same instant cannot together overrun the bound, and a request never gets a 503 half
// way, after the throttle has counted its attempt.

/** Thrown when a request would wait longer than the bound; answered 503 with Retry-After. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(
    readonly retryAfterSeconds: number,
    /** The queue as it was when it refused, for the log. */
    readonly figures: QueueFigures,
  ) {
    super('the bcrypt queue is full');
  }
}

/** Thrown when a request's client has gone before its work was admitted: nothing to do. */
export class RequestOverError extends Error {
  override name = 'RequestOverError';
  constructor() {
    super('the request is over');
  }
}

/** The queue's state and counts since start, shaped for a log line. */
export interface QueueFigures {
  threads: number;
  /** The current estimate of one job, in ms. */
  job_ms: number;
  /** How many jobs the threads finish within the bound, at that estimate. */
  bound_jobs: number;
  /** Jobs handed to the pool and not finished (waiting or running). */
  queued: number;
  /** Jobs of admitted requests not yet handed to the pool. */
  reserved: number;
  /** Seconds of work ahead of a newly queued job. */
  wait_seconds: number;
  /** Jobs the threads computed to the end. */
  computed: number;
  /** Jobs dropped because their request was over (waiting, or stopped while running). */
  dropped: number;
  /** Requests answered 503 because the queue was full. */
  refused: number;
}

// Weight of the newest measurement once warm: about the last ten jobs count. Before that
// the average of all the measurements so far, so that one slow early measurement (a job
// slowed by the process's own start-up) is soon outweighed.
const SMOOTHING = 0.2;

export class BcryptQueue {
  private jobSeconds: number;
  /** Measurements behind the estimate (the prior counts as none). */
  private samples = 0;
  private queued = 0;
  private reserved = 0;
  private readonly reservations = new WeakMap<AbortSignal, number>();
  private readonly counts = { computed: 0, dropped: 0, refused: 0 };

  /**
   * @param priorJobSeconds what a job is assumed to cost until one is measured
   */
  constructor(
    private readonly threads: number,
    private readonly limitSeconds: number,
    priorJobSeconds: number,
  ) {
    this.jobSeconds = priorJobSeconds;
  }

  /** One measured job time (a job of the pool, or the warm-up's); the first replaces the prior. */
  observe(jobSeconds: number): void {
    this.samples++;
    this.jobSeconds += Math.max(SMOOTHING, 1 / this.samples) * (jobSeconds - this.jobSeconds);
  }

  private waitSeconds(extraJobs: number): number {
    return ((this.queued + this.reserved + extraJobs) * this.jobSeconds) / this.threads;
  }

  /**
   * Admits a request's `jobs` jobs, or throws QueueFullError. The reservation lasts until
   * the jobs are handed to the pool or the signal aborts (the request is over).
   */
  admit(signal: AbortSignal, jobs: number): void {
    // A client already gone: stop the request here, before it counts or queries anything.
    if (signal.aborted) throw new RequestOverError();
    const wait = this.waitSeconds(jobs);
    if (wait > this.limitSeconds) {
      this.counts.refused++;
      throw new QueueFullError(Math.max(1, Math.ceil(wait - this.limitSeconds)), this.figures());
    }
    this.reserved += jobs;
    const before = this.reservations.get(signal);
    this.reservations.set(signal, (before ?? 0) + jobs);
    if (before === undefined) signal.addEventListener('abort', () => this.release(signal), { once: true });
  }

  private release(signal: AbortSignal): void {
    this.reserved -= this.reservations.get(signal) ?? 0;
    this.reservations.delete(signal);
  }

  /**
   * A job is about to be handed to the pool: it uses its request's reservation, or is
   * admitted on its own. Work without a signal (start-up, tools) is not bounded.
   */
  enqueue(signal: AbortSignal | undefined): void {
    // A request already over is not refused: the pool drops its job at once.
    if (signal !== undefined && !signal.aborted) {
      let left = this.reservations.get(signal) ?? 0;
      if (left === 0) {
        this.admit(signal, 1);
        left = 1;
      }
      this.reservations.set(signal, left - 1);
      this.reserved--;
    }
    this.queued++;
  }

  /** A job left the pool: computed in `computeSeconds`, or dropped before it ran. */
  finished(computeSeconds: number | undefined): void {
    this.queued--;
    if (computeSeconds === undefined) {
      this.counts.dropped++;
      return;
    }
    this.counts.computed++;
    this.observe(computeSeconds);
  }

  figures(): QueueFigures {
    return {
      threads: this.threads,
      job_ms: Math.round(this.jobSeconds * 10_000) / 10,
      bound_jobs: Math.floor((this.limitSeconds * this.threads) / this.jobSeconds),
      queued: this.queued,
      reserved: this.reserved,
      wait_seconds: Math.round(this.waitSeconds(0) * 100) / 100,
      ...this.counts,
    };
  }
}
