// Root hooks (a mocha plugin, loaded by .mocharc.cjs "require"): at the end of each test
// file (mocha runs each in a worker process of its own, and root hooks once per file there),
// every line its child processes printed is searched for every secret the tests saw. One
// leak fails the run, naming the file's process and the line (secret masked).
import {
  SECRET_SHAPES,
  findLeaks,
  rememberOutput,
  rememberedSecrets,
  takeRememberedOutput,
} from '../helpers/secrets.js';

const MAX_REPORTED = 20;
let restoreStdout: (() => void) | undefined;

export const mochaHooks = {
  beforeAll(): void {
    // Suites that use the library in this process log through it to our stdout: keep those
    // lines too (the library's logger writes one JSON object per line, starting {"time").
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string' && chunk.startsWith('{"time"'))
        for (const line of chunk.split('\n')) if (line !== '') rememberOutput('mocha process', line);
      return (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    };
    restoreStdout = () => (process.stdout.write = original);
  },

  afterAll(): void {
    restoreStdout?.();
    const output = takeRememberedOutput();
    const secrets = rememberedSecrets();
    const started = Date.now();
    const leaks = findLeaks(output, secrets);
    const sources = new Set(output.map((o) => o.source)).size;
    console.log(
      `\n  log check: ${output.length} lines from ${sources} processes searched for ${secrets.size} secrets and ${SECRET_SHAPES.length} secret shapes in ${Date.now() - started} ms: ${leaks.length} leaks`,
    );
    if (leaks.length > 0) {
      const shown = leaks
        .slice(0, MAX_REPORTED)
        .map((leak) => `  ${leak.kind} in ${leak.source}: ${leak.line.slice(0, 300)}`);
      throw new Error(`secrets appeared in the output of the run (${leaks.length}):\n${shown.join('\n')}`);
    }
  },
};
