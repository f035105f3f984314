// tsc compiles TypeScript only; the versioned SQL migrations and the OpenAPI document
// travel beside the compiled code so that dist/ is self-contained (the images run it).
import { cpSync } from 'node:fs';

cpSync('lib/db/migrations', 'dist/lib/db/migrations', { recursive: true });
cpSync('openapi.yaml', 'dist/openapi.yaml');
