// The images' code: one ES module per function (its server and nothing of the other
// functions), the operator commands, and the files those load at run time beside them,
// bundled with esbuild from the compiled tree (dist/, so the bundles run the code the
// tests compiled) into dist/bundle/:
//
//   <function>.js          node dist/bundle/<function>.js serves that function (the
//                          image's dist/bin/serve.js): a loader that runs <function>.cjs
//   <function>.cjs         the function's code, one CommonJS file, and beside it
//   <function>.cjs.cache   V8's code cache of it, made by a training start
//                          (scripts/code-cache.mjs, lib/code-cache.ts)
//   migrate.js, account.js, rotate-encryption-key.js   the migration and operator commands
//   bcrypt-worker.js       the password hasher's worker thread (lib/crypto/bcrypt.ts)
//   worker.js              piscina's own worker, which loads bcrypt-worker.js
//   migrations/            the SQL migrations, and each TypeScript one bundled
//   web/                   the portal's page, script and style sheet
//
// Every path the code resolves at run time is relative to its own module (import.meta.url),
// and in a bundle that module is the bundle: so these files sit side by side, here and in
// the image. Left out of the bundles, and needed beside them in node_modules: the native
// `bcrypt` addon (an optional dependency; its package and node-gyp-build, which finds its
// prebuilt binary). Also left out: PGlite (the embedded database of `npm start`: a bundle
// refuses to start without DATABASE_URL or POSTGRES_HOST) and optional packages the code
// never loads here (pg-native, @napi-rs/nice). See docs/images.md.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// The compiled list (this script runs after tsc): the servers read the same one.
import { HASHING_FUNCTIONS } from '../dist/lib/function-names.js';
import { fillCodeCaches } from './code-cache.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'bundle');

// Each function and the names its module exports (the portal reads its settings before
// it listens). bin/serve-function.ts (bin/serve-portal.ts) starts it as bin/serve.ts would.
const FUNCTIONS = {
  'generate-password': { handler: 'generatePassword' },
  'generate-2fa': { handler: 'generate2fa' },
  authenticate: { handler: 'authenticate' },
  'employee-events': { handler: 'employeeEvents' },
  housekeeping: { handler: 'housekeeping' },
  portal: { handler: 'portalHandler', prepare: 'preparePortal' },
};
// ES modules: the migration command import()s the TypeScript migrations, which code
// from a cache cannot (lib/code-cache.ts), and the key rotation runs once in a while.
const COMMANDS = ['migrate', 'rotate-encryption-key'];
// Run like the functions (a loader, CommonJS, a code cache): IT's command, which the
// suites also start some sixty times.
const CACHED_COMMANDS = ['account'];
// Not an image's: the development server on a PostgreSQL server, as the tests start it
// (test/helpers/process.ts), run like a function. npm start runs dist/bin/dev-server.js,
// which keeps the embedded database (this bundle refuses it, as every bundle does).
const DEVELOPMENT = 'dev-server';
// Each of these: <name>.cjs, its loader <name>.js and its code cache.
const CACHED = [...Object.keys(FUNCTIONS), DEVELOPMENT, ...CACHED_COMMANDS];

function functionEntry(name) {
  const { handler, prepare } = FUNCTIONS[name];
  const module = JSON.stringify(path.join(DIST, 'functions', name, 'index.js'));
  const checks = JSON.stringify(path.join(DIST, 'bin/serve-checks.js'));
  const serve = prepare
    ? [
        `import { servePortal } from ${JSON.stringify(path.join(DIST, 'bin/serve-portal.js'))};`,
        `servePortal(${handler}, ${prepare});`,
      ]
    : [
        `import { serveFunction } from ${JSON.stringify(path.join(DIST, 'bin/serve-function.js'))};`,
        `serveFunction(${JSON.stringify(name)}, ${handler});`,
      ];
  return [
    // First: an ES module's imports are evaluated in order, and this one starts the bcrypt
    // thread of a function whose requests hash (lib/function-names.ts, HASHING_FUNCTIONS).
    ...(HASHING_FUNCTIONS.includes(name) ? [`import ${JSON.stringify(path.join(DIST, 'bin/early-hasher.js'))};`] : []),
    `import { checkTarget } from ${checks};`,
    `import { ${handler}${prepare ? `, ${prepare}` : ''} } from ${module};`,
    serve[0],
    `checkTarget(${JSON.stringify(name)});`,
    serve[1],
  ].join('\n');
}

// What node runs for a function: its .cjs beside it, with the code cache (lib/code-cache.ts).
// From its own name, so that it works under the image's name too (dist/bin/serve.js runs
// dist/bin/serve.cjs).
function loaderEntry(name) {
  const bundle = "new URL(import.meta.url.replace(/\\.js$/, '.cjs'))";
  // A command's stdout is its result: its log lines go to stderr (bin/account.ts).
  const command = CACHED_COMMANDS.includes(name);
  return [
    `import { runWithCodeCache } from ${JSON.stringify(path.join(DIST, 'lib/code-cache.js'))};`,
    ...(command ? [`import { createLogger } from ${JSON.stringify(path.join(DIST, 'lib/log.js'))};`] : []),
    command
      ? `runWithCodeCache(${bundle}, createLogger({ command: ${JSON.stringify(name)} }, (line) => process.stderr.write(line + '\\n')));`
      : `runWithCodeCache(${bundle});`,
  ].join('\n');
}

/** The code of a CACHED name: a function's server, the development server, or a command. */
function codeEntry(name) {
  if (name === DEVELOPMENT)
    return `import { serveDevelopment } from ${JSON.stringify(path.join(DIST, 'bin/serve-development.js'))};\nserveDevelopment();`;
  if (CACHED_COMMANDS.includes(name)) return `import ${JSON.stringify(path.join(DIST, 'bin', `${name}.js`))};`;
  return functionEntry(name);
}

// The function entries are made here (above), not files of their own.
const functionEntries = {
  name: 'function-entries',
  setup(b) {
    b.onResolve({ filter: /^(function-entry|loader-entry):/ }, (args) => {
      const [namespace, name] = args.path.split(':');
      return { path: name, namespace };
    });
    b.onLoad({ filter: /.*/, namespace: 'loader-entry' }, (args) => ({
      contents: loaderEntry(args.path),
      resolveDir: ROOT,
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'function-entry' }, (args) => ({
      contents: codeEntry(args.path),
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};

// lib/runtime.ts imports the embedded database only when no server is configured: in a
// bundle that import fails with this message instead of carrying PGlite (tens of MB).
const noEmbeddedDatabase = {
  name: 'no-embedded-database',
  setup(b) {
    b.onResolve({ filter: /\/db\/embedded\.js$/ }, (args) => ({
      path: path.join(args.resolveDir, args.path),
      namespace: 'no-embedded-database',
    }));
    b.onLoad({ filter: /.*/, namespace: 'no-embedded-database' }, () => ({
      contents:
        "export async function startEmbedded() { throw new Error('the embedded database (PGlite) is not part of this bundle: set DATABASE_URL or POSTGRES_HOST'); }",
      loader: 'js',
    }));
  },
};

// Node warns (DEP0005) when `new Buffer()` is called from code outside node_modules, and a
// bundle is outside: the two calls of fernet and urlsafe-base64 (a string or a Buffer in,
// a copy out, as Buffer.from makes) are rewritten, and the build fails if they change.
const BUFFER_CALLS = { 'fernet/fernet.js': 1, 'urlsafe-base64/lib/urlsafe-base64.js': 1 };
const noDeprecatedBuffer = {
  name: 'no-deprecated-buffer',
  setup(b) {
    b.onLoad({ filter: /node_modules\/(fernet\/fernet|urlsafe-base64\/lib\/urlsafe-base64)\.js$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      const source = await readFile(args.path, 'utf8');
      const key = Object.keys(BUFFER_CALLS).find((file) => args.path.endsWith(file));
      const calls = source.split('new Buffer(').length - 1;
      if (calls !== BUFFER_CALLS[key])
        throw new Error(`${key}: ${calls} calls of new Buffer(), expected ${BUFFER_CALLS[key]}: check the rewrite`);
      return { contents: source.replaceAll('new Buffer(', 'Buffer.from('), loader: 'js' };
    });
  },
};

// pg picks its socket at load: on a runtime without `navigator` (Node 20) it tells Node from
// Cloudflare Workers by constructing a fetch Response, which loads Node's whole fetch
// implementation (undici) into every process, 15-20 ms of a cold start here. A bundle
// runs on Node only: it takes Node's sockets at once. The build fails if the line changes.
const PG_STREAM_CHOICE = 'const { getStream, getSecureStream } = getStreamFuncs()';
const nodeSocketsOnly = {
  name: 'node-sockets-only',
  setup(b) {
    b.onLoad({ filter: /node_modules\/pg\/lib\/stream\.js$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      const source = await readFile(args.path, 'utf8');
      if (source.split(PG_STREAM_CHOICE).length !== 2)
        throw new Error(`pg/lib/stream.js: "${PG_STREAM_CHOICE}" not found once: check the rewrite`);
      return {
        contents: source.replace(
          PG_STREAM_CHOICE,
          PG_STREAM_CHOICE.replace('getStreamFuncs()', 'getNodejsStreamFuncs()'),
        ),
        loader: 'js',
      };
    });
  },
};

// Our modules load some packages on first need with createRequire(import.meta.url)
// (lib/usernames.ts: the confusables data; lib/crypto/bcrypt-engine.ts: the engines). In a
// bundle that require must be esbuild's, so that the package is bundled (and still run only
// on the first call) or, for an external one (the native bcrypt), found in node_modules.
const CREATE_REQUIRE = 'const require = createRequire(import.meta.url);';
const bundledRequires = {
  name: 'bundled-requires',
  setup(b) {
    b.onLoad({ filter: /\/dist\/(lib|functions|bin)\/.*\.js$/ }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      const source = await readFile(args.path, 'utf8');
      // The loader's createRequire is the one it hands the function's code it runs.
      if (!source.includes('createRequire(') || args.path.endsWith('/lib/code-cache.js')) return undefined;
      if (!source.includes(CREATE_REQUIRE))
        throw new Error(`${args.path}: createRequire is used other than as "${CREATE_REQUIRE}"`);
      return { contents: source.replace(CREATE_REQUIRE, ''), loader: 'js', resolveDir: path.dirname(args.path) };
    });
  },
};

// CommonJS packages inside an ES module bundle still call require() (node built-ins,
// piscina's optional @napi-rs/nice) and read __dirname (piscina finds its worker.js there).
const BANNER = [
  "import { createRequire as __bundleCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bundleFileURLToPath } from 'node:url';",
  'const require = __bundleCreateRequire(import.meta.url);',
  'const __filename = __bundleFileURLToPath(import.meta.url);',
  "const __dirname = __bundleFileURLToPath(new URL('.', import.meta.url));",
].join('\n');

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: OUT,
  banner: { js: BANNER },
  external: ['bcrypt', 'pg-native', '@napi-rs/nice', 'cloudflare:sockets'],
  plugins: [functionEntries, noEmbeddedDatabase, noDeprecatedBuffer, nodeSocketsOnly, bundledRequires],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
};

// The bundles are made afresh, but the code caches and their stamps are kept aside: a cache
// whose bundle comes out byte for byte the same is used again (fillCodeCaches).
const keptCaches = existsSync(OUT)
  ? readdirSync(OUT)
      .filter((file) => /\.cjs\.cache(\.source)?$/.test(file))
      .map((file) => [file, readFileSync(path.join(OUT, file))])
  : [];
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
for (const [file, bytes] of keptCaches) writeFileSync(path.join(OUT, file), bytes);

const migrationsDir = path.join(DIST, 'lib/db/migrations');
const migrationModules = readdirSync(migrationsDir).filter((file) => /^\d{3}_[a-z0-9_]+\.js$/.test(file));

// The functions' code: CommonJS, which vm.Script compiles with a code cache (an ES module
// cannot be). import.meta.url is the file's own URL, as in an ES module.
const functions = await build({
  ...common,
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  banner: { js: "var __bundleImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__bundleImportMetaUrl' },
  // import() as require(): code run from a code cache cannot import() (lib/code-cache.ts).
  // The one import() of these bundles loads TypeScript migrations, which only the
  // embedded database runs, and no bundle holds it.
  supported: { 'dynamic-import': false },
  entryPoints: CACHED.map((name) => ({ in: `function-entry:${name}`, out: name })),
});

const result = await build({
  ...common,
  entryPoints: [
    ...CACHED.map((name) => ({ in: `loader-entry:${name}`, out: name })),
    ...COMMANDS.map((name) => ({ in: path.join(DIST, 'bin', `${name}.js`), out: name })),
    { in: path.join(DIST, 'lib/crypto/bcrypt-worker.js'), out: 'bcrypt-worker' },
    { in: path.join(ROOT, 'node_modules/piscina/dist/worker.js'), out: 'worker' },
    ...migrationModules.map((file) => ({
      in: path.join(migrationsDir, file),
      out: `migrations/${file.replace(/\.js$/, '')}`,
    })),
  ],
});

cpSync(migrationsDir, path.join(OUT, 'migrations'), {
  recursive: true,
  filter: (source) => source === migrationsDir || source.endsWith('.sql'),
});
cpSync(path.join(DIST, 'functions/portal/web'), path.join(OUT, 'web'), {
  recursive: true,
  filter: (source) => !source.endsWith('.map') && !source.endsWith('.d.ts'),
});
const metafile = {
  inputs: { ...functions.metafile.inputs, ...result.metafile.inputs },
  outputs: { ...functions.metafile.outputs, ...result.metafile.outputs },
};
writeFileSync(path.join(OUT, 'meta.json'), JSON.stringify(metafile));

// What went where: a bundle that grows (a package pulled in by one import) shows here.
const sizes = Object.entries(metafile.outputs)
  .filter(([file]) => /\.c?js$/.test(file) && !file.includes('/migrations/'))
  .map(([file, output]) => `${path.basename(file)} ${Math.round(output.bytes / 1024)} KiB`);
console.log(`bundle: ${sizes.join(', ')} (dist/bundle/)`);
console.log(
  `code cache: ${(await fillCodeCaches(OUT, [...Object.keys(FUNCTIONS), DEVELOPMENT], CACHED_COMMANDS)).join(', ')}`,
);
