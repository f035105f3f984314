// Structured logs: one JSON object per line on stdout. Callers pass facts (ids, codes,
// durations), never request bodies; errors are reduced to name, code and stack frames
// because driver messages can quote the values that were sent.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const wanted = (process.env.LOG_LEVEL ?? 'info').toLowerCase();
  return wanted in LEVELS ? LEVELS[wanted as LogLevel] : LEVELS.info;
}

/** What of an error may be logged: its class, its code (SQLSTATE or errno), where it was thrown. */
export function describeError(error: unknown): LogFields {
  if (!(error instanceof Error)) return { error_type: typeof error };
  const code = (error as { code?: unknown }).code;
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => line.trimStart().startsWith('at '))
    .slice(0, 8);
  return {
    error_name: error.name,
    ...(typeof code === 'string' ? { error_code: code } : {}),
    stack: frames.map((line) => line.trim()),
  };
}

export function createLogger(
  base: LogFields = {},
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
): Logger {
  const min = threshold();
  const emit = (level: LogLevel, event: string, fields?: LogFields): void => {
    if (LEVELS[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, event, ...base, ...fields }));
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    child: (fields) => createLogger({ ...base, ...fields }, write),
  };
}

export const log = createLogger();
