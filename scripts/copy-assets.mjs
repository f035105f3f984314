// tsc compiles TypeScript only; the versioned SQL migrations, the OpenAPI document and the
// portal's page and style sheet travel beside the compiled code so that dist/ is
// self-contained (the images run it).
import { cpSync } from 'node:fs';

cpSync('lib/db/migrations', 'dist/lib/db/migrations', { recursive: true });
cpSync('openapi.yaml', 'dist/openapi.yaml');
for (const file of ['index.html', 'app.css']) {
  cpSync(`functions/portal/web/${file}`, `dist/functions/portal/web/${file}`);
}
