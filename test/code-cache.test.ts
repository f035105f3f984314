// How a function's image runs its code (lib/code-cache.ts): a CommonJS bundle compiled with
// V8's code cache beside it. A cache is written on the way out of a training start, taken
// when it matches, refused (and the code compiled as usual) when it does not; the code runs
// as a CommonJS main module would either way. Then the bundles of the build: each has its
// cache, and a function started from its loader takes it; the build's training keeps a
// cache whose bundle and Node flags did not change, and makes it again when they did.
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { CODE_CACHE_OUT } from '../lib/code-cache.js';
import { PROJECT_ROOT, startProcess } from './helpers/process.js';

const LOADER = path.join(PROJECT_ROOT, 'dist/lib/code-cache.js');
// The functions', the development server's and the operator command's bundles (scripts/bundle.mjs).
const CACHED = [
  'generate-password',
  'generate-2fa',
  'authenticate',
  'employee-events',
  'housekeeping',
  'portal',
  'dev-server',
  'account',
];

// What a bundle relies on: require (relative and built-in), __filename, __dirname,
// module.exports, and a function compiled lazily (after the cache was made, or from it).
const BUNDLE = `
const helper = require('./helper.cjs');
const { basename } = require('node:path');
module.exports = { ok: true };
setImmediate(function later() {
  process.stdout.write(JSON.stringify({
    helper: helper.answer,
    file: basename(__filename),
    dir: __dirname,
    exported: module.exports.ok,
    url: require('node:url').pathToFileURL(__filename).href,
  }) + '\\n');
});
`;

/** The JSON lines (log lines, the bundle's result) among a process's output lines. */
function jsonLines(lines: string[]): Array<Record<string, unknown>> {
  return lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

interface Run {
  result: Record<string, unknown>;
  cache: string | undefined;
  rejected: boolean;
}

describe('code cache (lib/code-cache.ts)', function () {
  let dir: string;
  let bundle: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cofrap-code-cache-test-'));
    bundle = path.join(dir, 'app.cjs');
    writeFileSync(bundle, BUNDLE);
    writeFileSync(path.join(dir, 'helper.cjs'), 'exports.answer = 42;\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** One run of the bundle through the loader, in a process of its own. */
  function run(env: Record<string, string> = {}): Run {
    const script = `import { runWithCodeCache } from ${JSON.stringify(LOADER)}; runWithCodeCache(${JSON.stringify(bundle)});`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', ...env },
      encoding: 'utf8',
    });
    expect(child.status, child.stderr).to.equal(0);
    const lines = jsonLines(child.stdout.split('\n'));
    const result = lines.find((line) => 'helper' in line);
    expect(result, child.stdout).to.not.equal(undefined);
    return {
      result: result as Record<string, unknown>,
      cache: lines.find((line) => line.event === 'code_cache')?.cache as string | undefined,
      rejected: lines.some((line) => line.event === 'code_cache_rejected' && line.level === 'warn'),
    };
  }

  const expected = () => ({ helper: 42, file: 'app.cjs', dir, exported: true, url: `file://${bundle}` });

  it('without a cache: runs the bundle as CommonJS, and a training run writes the cache on exit', () => {
    const first = run({ [CODE_CACHE_OUT]: `${bundle}.cache` });
    expect(first.result).to.deep.equal(expected());
    expect(first.cache).to.equal('absent');
    expect(statSync(`${bundle}.cache`).size).to.be.greaterThan(0);
  });

  it('with the cache: takes it, and runs the same', () => {
    const second = run();
    expect(second.cache).to.equal('used');
    expect(second.rejected).to.equal(false);
    expect(second.result).to.deep.equal(expected());
  });

  it('a cache that does not match the source is refused with a warning, and the code still runs', () => {
    const cache = readFileSync(`${bundle}.cache`);
    appendFileSync(bundle, '// changed after the cache was made\n');
    const changed = run();
    expect(changed.rejected).to.equal(true);
    expect(changed.result).to.deep.equal(expected());
    writeFileSync(`${bundle}.cache`, cache.subarray(0, 64)); // cut short
    const truncated = run();
    expect(truncated.rejected).to.equal(true);
    expect(truncated.result).to.deep.equal(expected());
  });

  it('the build made a cache for each bundle run so, and the portal started from its loader takes it', async () => {
    for (const name of CACHED) {
      const file = path.join(PROJECT_ROOT, 'dist/bundle', `${name}.cjs.cache`);
      expect(existsSync(file), `${file}: npm run build makes it`).to.equal(true);
    }
    const portal = await startProcess({ script: 'serve', env: { FUNCTION_TARGET: 'portal', LOG_LEVEL: 'debug' } });
    try {
      const page = await fetch(`${portal.url}/`);
      expect(page.status).to.equal(200);
      const used = jsonLines(portal.output).find((entry) => entry.event === 'code_cache');
      expect(used).to.include({ bundle: 'portal.cjs', cache: 'used' });
    } finally {
      await portal.stop();
    }
  });

  it('the operator command takes its cache and says so on stderr: its stdout is the result alone', () => {
    const help = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'dist/bundle/account.js'), '--help'], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug' },
      encoding: 'utf8',
    });
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout).to.match(/^Usage: account /);
    expect(help.stdout).to.not.contain('{"time"');
    const logged = jsonLines(help.stderr.split('\n'));
    expect(logged.find((entry) => entry.event === 'code_cache')).to.include({ bundle: 'account.cjs', cache: 'used' });
  });
});

describe("the build's training starts (scripts/code-cache.mjs)", function () {
  type Fill = (outDir: string, names: string[], commands?: string[]) => Promise<string[]>;
  let fillCodeCaches: Fill;
  let out: string;
  const cacheOf = (): Buffer => readFileSync(path.join(out, 'portal.cjs.cache'));

  before(async () => {
    const script = pathToFileURL(path.join(PROJECT_ROOT, 'scripts/code-cache.mjs')).href;
    ({ fillCodeCaches } = (await import(script)) as { fillCodeCaches: Fill });
    // A copy of the build's bundles: the training writes beside the bundle it starts.
    out = mkdtempSync(path.join(tmpdir(), 'cofrap-training-test-'));
    cpSync(path.join(PROJECT_ROOT, 'dist/bundle'), out, { recursive: true });
    rmSync(path.join(out, 'portal.cjs.cache.source'), { force: true });
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  /** The portal started from its loader in `out`: the cache use it logs at start. */
  function cacheUseAtStart(env: Record<string, string> = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(out, 'portal.js')], {
        env: { PATH: process.env.PATH ?? '', FUNCTION_TARGET: 'portal', PORT: '0', LOG_LEVEL: 'debug', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const line = jsonLines(output.split('\n').slice(0, -1)).find((entry) =>
          String(entry.event).startsWith('code_cache'),
        );
        if (line !== undefined) {
          child.kill('SIGKILL');
          resolve(line.event === 'code_cache_rejected' ? 'rejected' : String(line.cache));
        }
      });
      child.on('exit', (code) =>
        reject(new Error(`the portal exited (${code}) before logging its code cache:\n${output}`)),
      );
    });
  }

  it('keeps a cache made from the same bundle by the same Node, and makes it again when the bundle changed', async () => {
    const [made] = await fillCodeCaches(out, ['portal']);
    expect(made).to.match(/^portal\.cjs\.cache \d+ KiB$/);
    const first = cacheOf();
    const [kept] = await fillCodeCaches(out, ['portal']);
    expect(kept).to.match(/^portal\.cjs\.cache \d+ KiB \(kept\)$/);
    expect(cacheOf().equals(first), 'the kept cache was rewritten').to.equal(true);
    expect(await cacheUseAtStart()).to.equal('used');

    appendFileSync(path.join(out, 'portal.cjs'), '\n// another build\n');
    expect(await cacheUseAtStart(), 'the old cache against the changed bundle').to.equal('rejected');
    const [again] = await fillCodeCaches(out, ['portal']);
    expect(again, 'a changed bundle is trained again').to.not.contain('(kept)');
    expect(await cacheUseAtStart()).to.equal('used');
  });

  it('trains with the V8 flags of NODE_OPTIONS, so that a function run with them takes the cache', async () => {
    const flags = '--max-old-space-size=256';
    const saved = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = flags;
    try {
      const [made] = await fillCodeCaches(out, ['portal']);
      expect(made, 'other flags: trained again').to.not.contain('(kept)');
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
    expect(await cacheUseAtStart({ NODE_OPTIONS: flags })).to.equal('used');
    expect(await cacheUseAtStart(), 'made for other flags').to.equal('rejected');
  });
});
