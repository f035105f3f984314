// What the whole run must never print: every secret the tests saw (passwords read from QR
// codes, TOTP secrets, enrollment/renewal/invitation tokens, OIDC tokens, Fernet keys,
// database passwords) and anything shaped like a bcrypt hash, a Fernet token or a JWT.
// The helpers record secrets here as they meet them and every line our child processes
// print; the root hook (test/hooks/no-secrets-in-logs.ts) looks for one in the other at
// the end of the run.

export type SecretKind = 'password' | 'totp secret' | 'token' | 'recovery code' | 'fernet key' | 'database password';

/**
 * Shorter values are not recorded: a 6-digit TOTP code (or a short test password such as
 * "wrong") would match timestamps, ports, durations and request ids by chance. A code is
 * derived from its TOTP secret, which is recorded; the suites that print codes to a server
 * check those codes explicitly.
 */
export const MIN_SECRET_LENGTH = 8;

/** Shapes that are secret whatever their value: a bcrypt hash, a Fernet token. */
export const SECRET_SHAPES: ReadonlyArray<{ kind: string; pattern: RegExp }> = [
  { kind: 'bcrypt hash', pattern: /\$2[aby]\$\d\d\$[./A-Za-z0-9]*/g },
  { kind: 'Fernet token', pattern: /gAAAAA[A-Za-z0-9_=-]*/g },
  // A JWT (the broker's OIDC token): base64url of '{"' opens its header and its payload.
  { kind: 'JWT', pattern: /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g },
];

const secrets = new Map<string, SecretKind>();
const lines: Array<{ source: string; line: string }> = [];

export function rememberSecret(value: unknown, kind: SecretKind): void {
  if (typeof value === 'string' && value.length >= MIN_SECRET_LENGTH) secrets.set(value, kind);
}

/** Records one line a child process (or the in-process logger) printed. */
export function rememberOutput(source: string, line: string): void {
  lines.push({ source, line });
}

export function rememberedSecrets(): ReadonlyMap<string, SecretKind> {
  return secrets;
}

/** The lines recorded since the last call, forgotten here: each test file's check reads its own. */
export function takeRememberedOutput(): Array<{ source: string; line: string }> {
  return lines.splice(0, lines.length);
}

export interface Leak {
  kind: string;
  source: string;
  /** The offending line with the secret masked, so the report does not leak it again. */
  line: string;
}

/**
 * Every line of `output` that carries one of `known` (as is, or JSON-escaped as a log line
 * would carry a password with a quote or a backslash) or one of the secret shapes.
 */
export function findLeaks(
  output: ReadonlyArray<{ source: string; line: string }>,
  known: ReadonlyMap<string, string>,
): Leak[] {
  const needles: Array<{ text: string; kind: string }> = [];
  for (const [value, kind] of known) {
    needles.push({ text: value, kind });
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) needles.push({ text: escaped, kind });
  }
  // One pass over the joined text per needle is far cheaper than one per line.
  const text = output.map((o) => o.line).join('\n');
  const starts: number[] = [];
  let offset = 0;
  for (const o of output) {
    starts.push(offset);
    offset += o.line.length + 1;
  }
  const lineAt = (index: number): number => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((starts[mid] as number) <= index) low = mid;
      else high = mid - 1;
    }
    return low;
  };
  const leaks: Leak[] = [];
  const mask = (line: string, needle: string): string => line.split(needle).join(`<${needle.length} chars>`);
  for (const needle of needles) {
    for (let at = text.indexOf(needle.text); at >= 0; at = text.indexOf(needle.text, at + 1)) {
      const hit = output[lineAt(at)] as { source: string; line: string };
      leaks.push({ kind: needle.kind, source: hit.source, line: mask(hit.line, needle.text) });
    }
  }
  for (const o of output) {
    for (const shape of SECRET_SHAPES) {
      if (o.line.search(shape.pattern) >= 0)
        leaks.push({ kind: shape.kind, source: o.source, line: o.line.replace(shape.pattern, '<masked>') });
    }
  }
  return leaks;
}
