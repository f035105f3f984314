// tsc compiles TypeScript only; the versioned SQL migrations, the OpenAPI document (as JSON) and
// the portal's page and style sheet travel beside the compiled code so that dist/ is
// self-contained (the images run it).
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

cpSync('lib/db/migrations', 'dist/lib/db/migrations', { recursive: true });
// The document as JSON, which the functions read at start: parsing the YAML took ~60 ms
// of every cold start (and loading the yaml package ~30 ms more).
writeFileSync('dist/openapi.json', JSON.stringify(parse(readFileSync('openapi.yaml', 'utf8'))));
for (const file of ['index.html', 'app.css']) {
  cpSync(`functions/portal/web/${file}`, `dist/functions/portal/web/${file}`);
}
