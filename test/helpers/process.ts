// Starts our compiled servers as child processes, as an operator would, and collects
// their log lines so tests can read them (and check what never appears in them).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

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
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The child gets exactly the configuration a test gives it, not the developer's.
    if (value !== undefined && !/^(DATABASE_URL|POSTGRES_|SECRETS_DIR|PGLITE_DATA_DIR|BCRYPT_|CREDENTIAL_|ENROLLMENT_|RENEWAL_|INVITATION_|TOTP_|SELF_REGISTRATION|CORS_|K_SERVICE|FUNCTION_TARGET|PORT$)/.test(key)) {
      env[key] = value;
    }
  }
  return env;
}

export function runToExit(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`dist/bin/${script}.js`], { cwd: PROJECT_ROOT, env: { ...baseEnv(), ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not exit within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export function startProcess(options: StartOptions): Promise<RunningProcess> {
  const child = spawn(process.execPath, [`dist/bin/${options.script}.js`], {
    cwd: PROJECT_ROOT,
    env: { ...baseEnv(), PORT: '0', ...options.env },
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let pending = '';
  const collect = (chunk: Buffer): void => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    output.push(...lines);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${options.timeoutMs ?? 60_000} ms:\n${output.join('\n')}`));
    }, options.timeoutMs ?? 60_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output.join('\n')}${pending}`));
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
