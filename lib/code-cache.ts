// How a function's image starts its code (scripts/bundle.mjs, docs/images.md): its bundle
// is one CommonJS file, compiled with V8's code cache made at image build
// (scripts/code-cache.mjs), beside it as <bundle>.cache. A cold start then skips most of
// the parsing and compiling of ~1.5 MB of JavaScript, and the functions the start-up ran
// come already compiled (measured: docs/images.md, "Code cache").
//
// Node 22's module.enableCompileCache() does this for any module, but not on Node 20 (this
// machine's, and a supported one); vm.Script's cachedData does it on both. A cache made by
// another Node or with other V8 flags is rejected by V8, checked against the source, and
// the bundle is then compiled as usual: slower, never wrong.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { log as rootLog } from './log.js';
import type { Logger } from './log.js';

/** Set by the build's training start: where to write the cache when the process exits. */
export const CODE_CACHE_OUT = 'COFRAP_CODE_CACHE_OUT';

export type CodeCacheUse = 'used' | 'rejected' | 'absent';

/** The parameters of the wrapper: what a CommonJS module sees, as Node's own loader gives it. */
type CommonJsWrapper = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Runs the CommonJS bundle at `bundle` (a file: URL or path) as Node would run it as a
 * main module, with the code cache at `<bundle>.cache` when there is one. `log`: where the
 * bundle's own log lines go (a function's on stdout; the operator command's on stderr,
 * its stdout being the result).
 */
export function runWithCodeCache(bundle: string | URL, log: Logger = rootLog): CodeCacheUse {
  const file = bundle instanceof URL || bundle.startsWith('file:') ? fileURLToPath(bundle) : bundle;
  const cacheFile = `${file}.cache`;
  const cachedData = readCache(cacheFile);
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`,
    {
      filename: file,
      ...(cachedData === undefined ? {} : { cachedData }),
      // No importModuleDynamically: on Node 20 an import() in code that came from the cache
      // finds no callback (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), and Node 22 warns that
      // the option is experimental. The build turns the bundles' import() into require().
    },
  );
  const use: CodeCacheUse = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used';
  // A rejected cache slows every cold start down: the image was built with another Node,
  // or the process runs with other V8 flags (NODE_OPTIONS) than the build's training start.
  if (use === 'rejected') log.warn('code_cache_rejected', { bundle: path.basename(file) });
  else log.debug('code_cache', { bundle: path.basename(file), cache: use });
  const out = process.env[CODE_CACHE_OUT];
  // After the run, not before: the cache then holds every function the start-up compiled.
  if (out !== undefined && out !== '') process.once('exit', () => writeFileSync(out, script.createCachedData()));
  const run = script.runInThisContext() as CommonJsWrapper;
  const module = { exports: {} };
  run(module.exports, createRequire(file), module, file, path.dirname(file));
  return use;
}
