// Overload and abandoned work (contract §2, §6; issue 15 items 4 and 5), over real
// sockets against the development server on a real PostgreSQL: a flood of requests whose
// clients leave at once, requests held until their jobs wait in the bcrypt queue, a queue
// pushed past BCRYPT_QUEUE_SECONDS, and a client that stalls after its headers.
//
// Durations are logged, never asserted (speed belongs to `npm run bench`). What is
// asserted comes from the process's own debug log: how many bcrypt jobs it computed,
// dropped and refused, and the bound its measured job time gives.
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { useServer } from './helpers/backends.js';
import { postJson } from './helpers/http.js';
import type { Answer } from './helpers/http.js';
import { checkAgainstDocument } from './helpers/contract.js';
import { createAndEnroll } from './helpers/journey.js';
import { codeAt, currentStep } from './helpers/totp.js';
import type { QueueFigures } from '../lib/crypto/bcrypt-queue.js';
import { pause } from './helpers/time.js';

const QUEUE_SECONDS = 3;
const BODY_TIMEOUT_MS = 500;

type Entry = Record<string, unknown>;

/** The request line, headers and body of an authenticate call, as bytes on the wire. */
function rawAuthenticate(username: string, address: string): string {
  const body = JSON.stringify({ username, password: 'flooding-the-queue', totp: '000000' });
  return (
    'POST /authenticate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `X-Forwarded-For: ${address}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Opens a connection and sends one whole request on it; the caller decides when to leave. */
function openAndSend(port: number, request: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request, () => resolve(socket)));
    socket.on('error', reject);
  });
}

/** Resident memory of a process (Linux): what it holds now and the most it ever held. */
function memoryOf(pid: number | undefined): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): string =>
      /^\w+:\s+(\d+) kB/m.exec(status.split('\n').find((line) => line.startsWith(name)) ?? '')?.[1] ?? '?';
    return `VmRSS ${Math.round(Number(field('VmRSS')) / 1024)} MiB, VmHWM ${Math.round(Number(field('VmHWM')) / 1024)} MiB`;
  } catch {
    return 'memory not readable here';
  }
}

describe('overload on postgres: bounded bcrypt queue, abandoned requests, stalled bodies', function () {
  this.timeout(180_000);
  const live = useServer('postgres', {
    TRUSTED_PROXY_HOPS: '1',
    LOG_LEVEL: 'debug',
    BCRYPT_QUEUE_SECONDS: String(QUEUE_SECONDS),
    REQUEST_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
  });

  const entries = (): Entry[] =>
    live.process.output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Entry);
  /** The latest figures of the bcrypt queue (warm-up or last job). */
  const figures = (): QueueFigures =>
    entries()
      .filter((e) => e.event === 'bcrypt_job' || e.event === 'bcrypt_queue')
      .at(-1) as unknown as QueueFigures;
  const authenticateLines = (): Entry[] =>
    entries().filter((e) => e.event === 'request' && e.function === 'authenticate');
  /** Waits until every one of `count` requests sent after `before` lines has logged its end. */
  async function allEnded(before: number, count: number): Promise<Entry[]> {
    for (let waited = 0; authenticateLines().length < before + count; waited += 20) {
      if (waited > 60_000) throw new Error(`only ${authenticateLines().length - before} of ${count} requests ended`);
      await pause(20);
    }
    return authenticateLines().slice(before);
  }
  const from = (address: string): Record<string, string> => ({ 'x-forwarded-for': address });

  it('200 requests sent and closed at once, then a real sign-in: answered, or 503 at once; the abandoned ones cost at most the bound', async () => {
    const account = await createAndEnroll(live.url, 'after.flood');
    const before = figures();
    const linesBefore = authenticateLines().length;
    console.log(
      `      before: ${memoryOf(live.process.child.pid)}; job ${before.job_ms} ms × ${before.threads} threads, bound ${before.bound_jobs} jobs (${QUEUE_SECONDS} s)`,
    );

    // every request whole on the wire, then its connection closed at once
    const sockets = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        openAndSend(live.process.port, rawAuthenticate(`flood.${i}`, `10.60.${i >> 8}.${i & 255}`)),
      ),
    );
    sockets.forEach((socket) => socket.destroy());

    const started = process.hrtime.bigint();
    const answer = await postJson(
      `${live.url}/authenticate`,
      { username: 'after.flood', password: account.password, totp: codeAt(account.secret, currentStep()) },
      from('198.51.100.200'),
    );
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`      the real sign-in after the flood: ${answer.status} in ${ms.toFixed(0)} ms`);
    expect([200, 503], answer.text).to.include(answer.status);
    if (answer.status === 503) {
      const refusal = entries().find(
        (e) => e.event === 'bcrypt_queue_full' && e.request_id === answer.headers.get('x-request-id'),
      );
      console.log(`      refused with the queue at ${JSON.stringify(refusal)}`);
      expect(answer.body.code).to.equal('unavailable');
      expect(Number(answer.headers.get('retry-after'))).to.be.at.least(1);
    }

    const flood = (await allEnded(linesBefore, 201)).filter((e) => e.status !== 200 && e.status !== 503);
    const after = figures();
    const forTheSignIn = answer.status === 200 ? 2 : 0;
    const computed = after.computed - before.computed - forTheSignIn;
    const allowed = Math.max(before.bound_jobs, after.bound_jobs);
    console.log(
      `      the 200 abandoned: ${computed} hashes computed, ${after.dropped - before.dropped} dropped, ${after.refused - before.refused} refused (bound ${allowed}); ` +
        `${flood.filter((e) => e.code === 'client_gone').length} logged client_gone; after: ${memoryOf(live.process.child.pid)}`,
    );
    expect(computed).to.be.at.most(allowed);
    expect(after.queued, 'nothing left in the queue').to.equal(0);
  });

  it('jobs queued for clients that left are dropped, not computed', async () => {
    const linesBefore = authenticateLines().length;
    const before = figures();
    // Few enough to be admitted (2 jobs each, under the bound: on a very slow machine a
    // few may be refused at once), held open until their jobs wait behind the threads.
    const count = Math.max(before.threads + 3, Math.min(20, Math.floor(before.bound_jobs / 2) - 2));
    const sockets = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        openAndSend(live.process.port, rawAuthenticate(`held.${i}`, `10.61.0.${i}`)),
      ),
    );
    for (let waited = 0; ; waited += 5) {
      const now = figures();
      if (now.computed > before.computed && now.queued >= before.threads + 2) break;
      if (waited > 60_000) throw new Error(`the jobs never queued: ${JSON.stringify(now)}`);
      await pause(5);
    }
    const atClose = figures();
    sockets.forEach((socket) => socket.destroy());
    const ended = await allEnded(linesBefore, count);
    const after = figures();
    const computed = after.computed - before.computed;
    const dropped = after.dropped - before.dropped;
    console.log(
      `      ${count} requests, ${2 * count} jobs at most: ${computed} computed, ${dropped} dropped; ${atClose.queued} were in the pool when the clients left`,
    );
    const gone = ended.filter((e) => e.code === 'client_gone');
    expect(
      ended.every((e) => e.code === 'client_gone' || e.code === 'unavailable'),
      JSON.stringify(ended.map((e) => e.status)),
    ).to.equal(true);
    expect(gone.length).to.be.at.least(before.threads + 2);
    // what waited when the clients left (all but the ones running) was not computed
    // (less the running ones and those that finished while the test reacted: a few)
    expect(dropped).to.be.at.least(atClose.queued - 2 * atClose.threads);
    expect(computed).to.be.below(2 * count);
    expect(after.queued).to.equal(0);
  });

  it(`a queue past BCRYPT_QUEUE_SECONDS answers new requests 503 with Retry-After at once, and they count nowhere`, async () => {
    const before = figures();
    const count = Math.ceil(before.bound_jobs / 2) + 20;
    const timed = await Promise.all(
      Array.from({ length: count }, async (_, i): Promise<{ answer: Answer; ms: number }> => {
        const started = process.hrtime.bigint();
        const answer = await postJson(
          `${live.url}/authenticate`,
          { username: `queued.${i}`, password: 'flooding-the-queue', totp: '000000' },
          from(`10.62.0.${i}`),
        );
        return { answer, ms: Number(process.hrtime.bigint() - started) / 1e6 };
      }),
    );
    const refused = timed.filter((t) => t.answer.status === 503);
    const checked = timed.filter((t) => t.answer.status === 401);
    const after = figures();
    console.log(
      `      ${count} at once against a bound of ${before.bound_jobs} jobs: ${checked.length} × 401, ${refused.length} × 503 ` +
        `(503s answered in at most ${Math.max(...refused.map((t) => t.ms)).toFixed(0)} ms, 401s in up to ${Math.max(...checked.map((t) => t.ms)).toFixed(0)} ms)`,
    );
    expect(refused.length + checked.length, timed.map((t) => t.answer.status).join()).to.equal(count);
    expect(refused.length).to.be.at.least(1);
    for (const { answer } of refused) {
      expect(answer.body.code).to.equal('unavailable');
      expect(Number(answer.headers.get('retry-after'))).to.be.at.least(1);
    }
    expect(after.refused - before.refused).to.equal(refused.length);
    // admitted before the throttle counts: a 503 left no failure behind
    const [rows] = await live.backend.sql<{ n: number }>(
      "SELECT count(*)::integer AS n FROM auth_throttle WHERE username LIKE 'queued.%'",
    );
    expect(rows?.n).to.equal(checked.length);
  });

  it('a body that has not arrived within the limit after the headers: 408 request_timeout, connection closed', async () => {
    let closed: Promise<void> = Promise.resolve();
    const { status, headers, text } = await new Promise<{ status: number; headers: Headers; text: string }>(
      (resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port: live.process.port,
          path: '/authenticate',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': '64' },
        });
        req.on('error', reject);
        req.on('socket', (socket) => {
          closed = new Promise((done) => socket.once('close', () => done()));
        });
        // a part of the body, then nothing
        req.write('{"username":"slow.loris",');
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const answered = new Headers();
            for (const [name, value] of Object.entries(res.headers))
              if (typeof value === 'string') answered.set(name, value);
            resolve({ status: res.statusCode ?? 0, headers: answered, text: Buffer.concat(chunks).toString() });
          });
        });
      },
    );
    expect(status, text).to.equal(408);
    checkAgainstDocument('POST', '/authenticate', { status, headers, text });
    expect(JSON.parse(text)).to.include({ code: 'request_timeout' });
    expect(headers.get('connection')).to.equal('close');
    await closed;
    let line: Entry | undefined;
    for (let waited = 0; line === undefined && waited < 10_000; waited += 20) {
      line = authenticateLines().find((e) => e.code === 'request_timeout');
      if (line === undefined) await pause(20);
    }
    expect(line?.status).to.equal(408);
    console.log(`      answered 408 after ${String(line?.duration_ms)} ms (limit ${BODY_TIMEOUT_MS} ms)`);
  });
});
