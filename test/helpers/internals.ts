// What an error answer must never carry: stack frames, file positions, SQL or driver
// messages. A fragment the request itself contained is an echo of the caller's own input
// (an unknown field named "pg_x" is named back), not a leak, and is not reported.
export const INTERNAL_FRAGMENTS: ReadonlyArray<{ name: string; pattern: RegExp }> = [
  { name: 'stack frame', pattern: /\n\s+at |^\s*at \S+ \(| {4}at / },
  { name: 'source position', pattern: /\.[cm]?[jt]s:\d+/ },
  { name: 'node_modules path', pattern: /node_modules/ },
  { name: 'SQL relation message', pattern: /\brelation \\?"|\bcolumn \\?"[^"]*\\?" (does not exist|of relation)/ },
  { name: 'SQL syntax error', pattern: /syntax error at or near|syntax error/i },
  { name: 'constraint violation', pattern: /violates (unique|check|not-null|foreign key)/ },
  { name: 'SQL statement', pattern: /\b(SELECT .* FROM|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b/ },
  { name: 'network error', pattern: /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/ },
  { name: 'driver name', pattern: /\bpg_\w|\bpg-pool\b|PGlite|node-postgres/i },
  {
    name: 'driver message',
    pattern:
      /Connection terminated|terminating connection|timeout exceeded when trying to connect|Client has encountered/,
  },
  { name: 'bcrypt hash', pattern: /\$2[aby]\$\d\d\$/ },
  { name: 'Fernet token', pattern: /gAAAAA/ },
];

/** The names of the internal fragments `text` carries that `sent` did not already contain. */
export function internalsIn(text: string, sent = ''): string[] {
  const found: string[] = [];
  for (const { name, pattern } of INTERNAL_FRAGMENTS) {
    const match = pattern.exec(text);
    if (match !== null && !sent.includes(match[0].trim())) found.push(name);
  }
  return found;
}
