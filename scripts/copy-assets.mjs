// tsc compiles TypeScript only; the versioned SQL migrations, the OpenAPI document (as JSON) and
// the portal's page and style sheet travel beside the compiled code so that dist/ is
// self-contained (the images run it).
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse } from 'yaml';

// Migrations: the .sql scripts are copied; the .ts ones are compiled there by tsc (.js and
// .js.map), and their sources stay out. A compiled migration whose source is gone (renamed
// or renumbered on a branch) is removed, or the migration runner would apply it.
const MIGRATIONS = 'lib/db/migrations';
const DIST_MIGRATIONS = `dist/${MIGRATIONS}`;
cpSync(MIGRATIONS, DIST_MIGRATIONS, {
  recursive: true,
  filter: (source) => source === MIGRATIONS || source.endsWith('.sql'),
});
for (const file of readdirSync(DIST_MIGRATIONS)) {
  const source = file.replace(/\.js(\.map)?$/, '.ts');
  if (file.endsWith('.ts') || !existsSync(`${MIGRATIONS}/${source}`)) rmSync(`${DIST_MIGRATIONS}/${file}`);
}
// The document as JSON, which the functions read at start: parsing the YAML took ~60 ms
// of every cold start (and loading the yaml package ~30 ms more).
const openapiJson = JSON.stringify(parse(readFileSync('openapi.yaml', 'utf8')));
writeFileSync('dist/openapi.json', openapiJson);
for (const file of ['index.html', 'app.css']) {
  cpSync(`functions/portal/web/${file}`, `dist/functions/portal/web/${file}`);
}
// The QR decoder the page loads from our own origin: jsqr's browser build (its main file).
cpSync(createRequire(import.meta.url).resolve('jsqr'), 'dist/functions/portal/web/jsqr.js');
// The document again beside the page, for the portal's server (not served): the username
// rule the page checks comes from it, and a portal bundle carries web/ but not dist/.
writeFileSync('dist/functions/portal/web/openapi.json', openapiJson);
