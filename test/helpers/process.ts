// Starts our servers and commands as child processes, as an operator (or an image) would,
// and collects their log lines so tests can read them (and check what never appears in them).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rememberOutput, rememberSecret } from './secrets.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * What a test runs for a script, as the images run it: a function's server is its bundle
 * (dist/bundle/<FUNCTION_TARGET>.js, the image's dist/bin/serve.js), the migration and
 * operator commands theirs (scripts/bundle.mjs), whenever a PostgreSQL server is configured
 * (DATABASE_URL or POSTGRES_HOST), as in an image. So is the development server (every
 * function in one process, no image): its bundle starts in a quarter of the CPU time of
 * dist/, and the suites start it some forty times. Without a server the process runs over
 * the embedded PGlite, which only `npm start` and the npm scripts (dist/, as tsc compiled
 * it) carry; the portal needs no database: always its bundle. A FUNCTION_TARGET that names
 * no function has no bundle: the generic dist/bin/serve.js answers it (and refuses it).
 */
export function scriptPath(script: string, env: Record<string, string>): string {
  const compiled = `dist/bin/${script}.js`;
  const server = [env.DATABASE_URL, env.POSTGRES_HOST].some((value) => value !== undefined && value !== '');
  // The portal holds no database either way: its bundle.
  if (!server && !(script === 'serve' && env.FUNCTION_TARGET === 'portal')) return compiled;
  const bundle = script === 'serve' ? `dist/bundle/${env.FUNCTION_TARGET ?? ''}.js` : `dist/bundle/${script}.js`;
  if (existsSync(path.join(PROJECT_ROOT, bundle))) return bundle;
  if (script === 'serve') return compiled;
  throw new Error(`${bundle} is missing: run npm run build`);
}

export interface RunningProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Every line the process wrote to stdout and stderr so far. */
  output: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  script: 'dev-server' | 'serve';
  env: Record<string, string>;
  timeoutMs?: number;
  /** Options for node itself, before the script (the bench's --cpu-prof, which NODE_OPTIONS refuses). */
  nodeOptions?: string[];
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The child gets exactly the configuration a test gives it, not the developer's. Nor
    // NODE_EXTRA_CA_CERTS: the children reach no server over TLS, and reading a system's
    // whole CA bundle at every start costs each of the run's hundreds of processes ~50 ms.
    if (
      key !== 'NODE_EXTRA_CA_CERTS' &&
      value !== undefined &&
      !/^(DATABASE_URL|POSTGRES_|SECRETS_DIR|PGLITE_DATA_DIR|BCRYPT_|CREDENTIAL_|ENROLLMENT_|RENEWAL_|INVITATION_|RESET_|K_SINK|TOTP_|SELF_REGISTRATION|CORS_|K_SERVICE|FUNCTION_TARGET|PORT$|EVENTS_OIDC_|HR_EVENT_SOURCES|PORTAL_|EXPIRY_REMINDERS|AUDIT_RETENTION|SINK_OIDC_|TRUSTED_PROXY_HOPS|REQUEST_BODY_TIMEOUT_MS|PG_POOL_MAX|PG_STATEMENT_TIMEOUT_MS)/.test(
        key,
      )
    ) {
      env[key] = value;
    }
  }
  return env;
}

/** The password inside a DATABASE_URL the tests hand to a child: it must never be printed. */
function rememberDatabasePassword(env: Record<string, string>): void {
  if (env.DATABASE_URL === undefined || env.DATABASE_URL === '') return;
  try {
    rememberSecret(decodeURIComponent(new URL(env.DATABASE_URL).password), 'database password');
  } catch {
    // not a URL: the test is checking that the service refuses it
  }
}

/** Keeps every complete line of a stream, here and in the run-wide record of output. */
function lineCollector(source: string, into: string[]): { push(chunk: Buffer): void; flush(): void } {
  let pending = '';
  const keep = (line: string): void => {
    into.push(line);
    rememberOutput(source, line);
  };
  return {
    push(chunk) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(keep);
    },
    flush() {
      if (pending !== '') keep(pending);
      pending = '';
    },
  };
}

export interface RunOptions {
  /** Arguments after the script (the operator command's verb and options). */
  args?: string[];
  timeoutMs?: number;
  /**
   * stdout is a hand-over to the operator (the link with a reset or invitation token that
   * `account reset` and `account enable` print): it is not recorded for the run's secret
   * check, which would rightly find the token in it. stderr still is, and the test checks
   * stdout itself.
   */
  stdoutHandsOver?: boolean;
}

export interface Exit {
  code: number | null;
  /** stdout and stderr as they came, interleaved. */
  output: string;
  stdout: string;
  stderr: string;
}

export function runToExit(
  script: string,
  env: Record<string, string>,
  options: number | RunOptions = 60_000,
): Promise<Exit> {
  const {
    args = [],
    timeoutMs = 60_000,
    stdoutHandsOver = false,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  rememberDatabasePassword(env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [scriptPath(script, env), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...baseEnv(), ...env },
    });
    // one collector per stream, so a line is never spliced from both
    const recorded = stdoutHandsOver ? [child.stderr] : [child.stdout, child.stderr];
    const records = recorded.map((stream) => {
      const record = lineCollector(`${script} (pid ${child.pid})`, []);
      stream.on('data', (chunk: Buffer) => record.push(chunk));
      return record;
    });
    let output = '';
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not exit within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    // 'close' comes after the last output, unlike 'exit'.
    child.on('close', (code) => {
      clearTimeout(timer);
      records.forEach((record) => record.flush());
      resolve({ code, output, stdout, stderr });
    });
  });
}

export function startProcess(options: StartOptions): Promise<RunningProcess> {
  rememberDatabasePassword(options.env);
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), scriptPath(options.script, options.env)], {
    cwd: PROJECT_ROOT,
    env: { ...baseEnv(), PORT: '0', ...options.env },
  });
  const output: string[] = [];
  const source = `${options.script}${options.env.FUNCTION_TARGET ? ` ${options.env.FUNCTION_TARGET}` : ''} (pid ${child.pid})`;
  // one collector per stream, so a line is never spliced from both
  const collectors = [child.stdout, child.stderr].map((stream) => {
    const collector = lineCollector(source, output);
    stream.on('data', (chunk: Buffer) => collector.push(chunk));
    return collector;
  });
  // 'close' comes after the last output, unlike 'exit'.
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      collectors.forEach((collector) => collector.flush());
      resolve(code);
    }),
  );

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${options.timeoutMs ?? 60_000} ms:\n${output.join('\n')}`));
    }, options.timeoutMs ?? 60_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output.join('\n')}`));
    });
    const poll = setInterval(() => {
      for (const line of output) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { event?: string; port?: number };
        if (entry.event === 'listening' && typeof entry.port === 'number') {
          clearInterval(poll);
          clearTimeout(timer);
          const port = entry.port;
          resolve({
            url: `http://127.0.0.1:${port}`,
            port,
            child,
            output,
            async stop(signal: NodeJS.Signals = 'SIGTERM') {
              if (child.exitCode !== null) return child.exitCode;
              child.kill(signal);
              return exited;
            },
          });
          return;
        }
      }
    }, 20);
    void exited.then(() => clearInterval(poll));
  });
}
