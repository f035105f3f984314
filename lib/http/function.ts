// The envelope every JSON function shares: request id and access log, /healthz and
// /readyz, CORS, method, media type, size, time and JSON checks, and the mapping of every
// failure onto the contract's error body. A handler only sees a parsed JSON object, with
// the client's address and a signal that tells when the request is over.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpFunction, Request, Response } from '@google-cloud/functions-framework';
import cors from 'cors';
import getRawBody from 'raw-body';
import {
  HttpError,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  internal,
  invalidRequest,
  requestTimeout,
  unavailable,
} from './errors.js';
import { resolveClientAddress } from './client-address.js';
import { QueueFullError, RequestOverError } from '../crypto/bcrypt-queue.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { describeError, log as rootLog } from '../log.js';
import type { Logger } from '../log.js';
import { getRuntime, readiness } from '../runtime.js';
import type { Runtime } from '../runtime.js';
import { validateRequestBody } from '../validation.js';
import type { JsonOperation, RequestBody, SuccessReply } from '../openapi-types.js';

export const MAX_BODY_BYTES = 16 * 1024;

/** What every handler gets beside the body: who asked, and until when it listens. */
export interface RequestContext {
  requestId: string;
  log: Logger;
  /** The client's address (contract §6: the TCP peer, or the trusted X-Forwarded-For entry). */
  clientAddress: string;
  /**
   * Aborts when the request is over: answered, or its client gone. Work queued for it
   * (bcrypt jobs) is dropped then, not computed for nobody.
   */
  signal: AbortSignal;
}

export interface JsonRequest<T> extends RequestContext {
  body: T;
}

/**
 * The handler of a JSON operation of openapi.yaml: it gets the request body as the
 * operation's schema admitted it, and answers one of the operation's documented success
 * statuses with that status's body (failures are thrown HttpErrors).
 */
export type JsonHandler<Op extends JsonOperation> = (
  runtime: Runtime,
  request: JsonRequest<RequestBody<Op>>,
) => Promise<SuccessReply<Op>>;

/** A POST as the envelope hands it over: headers, the body's bytes (at most 16 KiB), ids. */
export interface PostRequest extends RequestContext {
  headers: IncomingHttpHeaders;
  header: (name: string) => string | undefined;
  body: Buffer;
}

/** An answer: a JSON object, a prepared text body with its own headers, or no body at all. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: object | string;
}

export type PostHandler = (runtime: Runtime, request: PostRequest) => Promise<Reply>;

/** What a check may see before the body is read: the headers and the request's ids. */
export interface RequestHead {
  header: (name: string) => string | undefined;
  requestId: string;
  log: Logger;
}

/**
 * Runs after the method check and before a byte of the body is read; throwing an
 * HttpError answers it. Who may call (employee-events: the broker's token) is settled
 * here, so an unauthenticated sender costs no body read, no parse and no query.
 */
export type BeforeBody = (runtime: Runtime, head: RequestHead) => Promise<void>;

export interface PostFunctionOptions {
  beforeBody?: BeforeBody;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(req: Request): string {
  const given = req.get('x-request-id');
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
}

function send(
  res: Response,
  status: number,
  body: object | string | undefined,
  headers: Record<string, string> = {},
): void {
  res.set(headers);
  if (body === undefined) {
    res.status(status).end();
  } else if (typeof body === 'string') {
    res.status(status).send(body);
  } else {
    res.status(status).json(body);
  }
}

/**
 * The body as bytes: the functions-framework server has read it already; our server has
 * not. A body still incomplete `timeoutMs` after `headersAt` is answered 408: a client
 * that stalls holds a connection and a request slot for no longer (Node's own limit, 300 s,
 * would answer without the contract's body).
 */
async function readBody(req: Request, headersAt: bigint, timeoutMs: number): Promise<Buffer> {
  if (Buffer.isBuffer(req.rawBody)) {
    if (req.rawBody.length > MAX_BODY_BYTES) throw payloadTooLarge();
    return req.rawBody;
  }
  const encoding = (req.get('content-encoding') ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    throw new HttpError(415, 'unsupported_media_type', 'Compressed request bodies are not accepted; send plain JSON.');
  }
  const reading = getRawBody(req, { limit: MAX_BODY_BYTES, length: req.get('content-length') });
  // Settled either way once the connection closes after a 408; nobody waits for it then.
  reading.catch(() => undefined);
  const elapsedMs = Number((process.hrtime.bigint() - headersAt) / 1_000_000n);
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(requestTimeout(timeoutMs / 1000)), Math.max(0, timeoutMs - elapsedMs));
  });
  try {
    return await Promise.race([reading, stalled]);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') throw payloadTooLarge();
    throw invalidRequest('The request body could not be read completely.');
  } finally {
    clearTimeout(timer);
  }
}

function payloadTooLarge(): HttpError {
  return new HttpError(413, 'payload_too_large', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
}

/** The body as JSON, unchecked: the operation's schema says what it may be. */
function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw invalidRequest('The request body is not valid JSON.');
  }
}

/** The media type without its parameters, lower case ("application/json; charset=utf-8" → "application/json"). */
export function mediaType(request: PostRequest): string | undefined {
  return request.header('content-type')?.split(';')[0]?.trim().toLowerCase();
}

/** Applies CORS for the configured origins; true when the request was a preflight, now answered. */
function applyCors(runtime: Runtime, req: Request, res: Response): Promise<boolean> {
  const origins = runtime.config.corsAllowedOrigins;
  if (origins.length === 0) return Promise.resolve(false);
  const middleware = cors({
    origin: origins,
    methods: ['POST'],
    allowedHeaders: ['Content-Type', 'X-Request-Id'],
    exposedHeaders: ['Retry-After', 'X-Request-Id'],
    maxAge: 600,
  });
  return new Promise((resolve, reject) => {
    middleware(req, res, (error?: Error) => (error ? reject(error) : resolve(false)));
    if (res.headersSent || res.writableEnded) resolve(true);
  });
}

/**
 * GET /healthz: the process is alive (no I/O). GET /readyz: the database answers, its
 * schema is the expected version and its statements are bounded (lib/runtime.ts). Every function answers both, at any mount point.
 */
export async function answerProbe(req: Request, res: Response): Promise<void> {
  res.set('Cache-Control', 'no-store');
  if (req.path.endsWith('/healthz')) return send(res, 200, { status: 'ok' });
  const state = await readiness(await getRuntime());
  if (state.ready) return send(res, 200, { status: 'ready' });
  send(
    res,
    503,
    { error: `Not ready: ${state.reason}.`, code: 'unavailable' },
    { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
  );
}

/** Work refused or stopped because its request was over (piscina's AbortError, or ours). */
function stoppedForBeingOver(error: unknown): boolean {
  return error instanceof RequestOverError || (error instanceof Error && error.name === 'AbortError');
}

let warnedFallback = false;

/**
 * The client's address for this request. At debug level every request logs how it was
 * resolved, so an operator can check TRUSTED_PROXY_HOPS against real traffic (docs/operations.md,
 * "Client address"); a chain shorter than the configured hops is a warning, once.
 */
function clientAddressOf(req: Request, runtime: Runtime, log: Logger): string {
  const hops = runtime.config.trustedProxyHops;
  const resolved = resolveClientAddress(req, hops);
  const fields = {
    client_address: resolved.address,
    peer: resolved.peer,
    forwarded_entries: resolved.forwardedEntries,
    trusted_proxy_hops: hops,
    ...(resolved.fallback === undefined ? {} : { fallback: resolved.fallback }),
  };
  log.debug('client_address', fields);
  if (resolved.fallback !== undefined && !warnedFallback) {
    warnedFallback = true;
    log.warn('client_address_fallback', {
      ...fields,
      note: 'X-Forwarded-For gives no usable address at TRUSTED_PROXY_HOPS (fallback says why); the TCP peer stands for the client. Logged once.',
    });
  }
  return resolved.address;
}

/** The envelope for a POST function whose handler reads the body's bytes itself. */
export function postFunction(name: string, handler: PostHandler, options: PostFunctionOptions = {}): HttpFunction {
  return async (req: Request, res: Response) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req);
    const log = rootLog.child({ function: name, request_id: requestId });
    res.set({ 'X-Request-Id': requestId, 'Cache-Control': 'no-store' });
    let code: string | undefined;
    // The response's 'close', not the request's: since Node 16 a request emits 'close' as
    // soon as its body has been read, while the response's comes when the answer is sent
    // or the connection is lost, whichever is first.
    const over = new AbortController();
    res.once('close', () => over.abort());
    const clientGone = (): boolean => over.signal.aborted && !res.writableFinished;

    try {
      if (req.method === 'GET' && (req.path === '/healthz' || req.path === '/readyz')) {
        return await answerProbe(req, res);
      }
      const runtime = await getRuntime();
      if (await applyCors(runtime, req, res)) return;
      if (req.method !== 'POST') {
        throw new HttpError(405, 'method_not_allowed', `Method ${req.method} is not allowed; use POST.`, {
          Allow: 'POST',
        });
      }
      const header = (name: string): string | undefined => req.get(name);
      await options.beforeBody?.(runtime, { header, requestId, log });
      const body = await readBody(req, started, runtime.config.requestBodyTimeoutMs);
      const clientAddress = clientAddressOf(req, runtime, log);
      const reply = await handler(runtime, {
        headers: req.headers,
        header,
        body,
        requestId,
        log,
        clientAddress,
        signal: over.signal,
      });
      send(res, reply.status, reply.body, reply.headers);
    } catch (error) {
      // The client left: nobody to answer, and work stopped for that reason (a bcrypt job
      // dropped) is no fault. Anything else that failed is still logged.
      const gone = clientGone();
      let failure: HttpError;
      if (error instanceof HttpError) {
        failure = error;
      } else if (error instanceof QueueFullError) {
        failure = unavailable(error.retryAfterSeconds);
        log.info('bcrypt_queue_full', { retry_after: error.retryAfterSeconds, ...error.figures });
      } else if (gone && stoppedForBeingOver(error)) {
        failure = internal();
      } else if (isDatabaseUnavailable(error)) {
        failure = unavailable();
        log.warn('database_unavailable', describeError(error));
      } else {
        failure = internal();
        log.error('unhandled_error', describeError(error));
      }
      code = gone ? 'client_gone' : failure.code;
      if (!gone && !res.headersSent) send(res, failure.status, failure.body(), failure.headers);
    } finally {
      const probe = req.path === '/healthz' || req.path === '/readyz';
      log[probe && res.statusCode < 400 ? 'debug' : 'info']('request', {
        method: req.method,
        path: req.path,
        // 499: nginx's "client closed request"; nothing was sent
        status: code === 'client_gone' ? 499 : res.statusCode,
        ...(code === undefined ? {} : { code }),
        duration_ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
      });
    }
  };
}

/**
 * The envelope for a function that takes a JSON body (Content-Type: application/json):
 * the operation `operationId` of openapi.yaml, whose request schema checks the body
 * before the handler sees it.
 */
export function jsonFunction<Op extends JsonOperation>(
  name: string,
  operationId: Op,
  handler: JsonHandler<NoInfer<Op>>,
): HttpFunction {
  return postFunction(name, async (runtime, request) => {
    if (mediaType(request) !== 'application/json') {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'The request body must be JSON (Content-Type: application/json).',
      );
    }
    const { requestId, log, clientAddress, signal } = request;
    const body = validateRequestBody(operationId, parseJson(request.body));
    return handler(runtime, { body, requestId, log, clientAddress, signal });
  });
}
