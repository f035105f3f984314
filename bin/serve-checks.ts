// The one-line refusals of a one-function server at start (bin/serve.ts, the bundles).
import type { FunctionName } from '../lib/function-names.js';

export function stopOnConfiguration(message: string): never {
  process.stderr.write(`configuration error: ${message}\n`);
  process.exit(1);
}

/** A bundle serves the function it was built for; a FUNCTION_TARGET naming another is a mistake. */
export function checkTarget(name: FunctionName): void {
  const target = process.env.FUNCTION_TARGET ?? '';
  if (target !== '' && target !== name)
    stopOnConfiguration(`FUNCTION_TARGET is "${target}", but this server is built for ${name} only`);
}
