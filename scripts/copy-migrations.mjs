// tsc compiles TypeScript only; the versioned SQL migrations travel beside the compiled
// runner so that dist/ is self-contained (it is what the images run).
import { cpSync } from 'node:fs';

cpSync('lib/db/migrations', 'dist/lib/db/migrations', { recursive: true });
