// Which database errors mean "the database is unreachable or overloaded, retry later"
// (answered 503) rather than a bug (answered 500).
const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  'ENOENT',
]);

// SQLSTATE: 08 connection exception, 57P01-03 shutdown / cannot connect now,
// 53300 too many connections, 57014 statement timeout, 40001/40P01 serialization/deadlock.
const RETRYABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '40001', '40P01']);

const POOL_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error',
  'Cannot use a pool after calling end',
];

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_ERRNOS.has(code) || RETRYABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  // a wrapper (a failed rollback after the connection died) is what it wraps
  if (error.cause !== undefined && error.cause !== error && isDatabaseUnavailable(error.cause)) return true;
  return POOL_MESSAGES.some((text) => error.message.includes(text));
}
