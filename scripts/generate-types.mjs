// The request and response types, generated from openapi.yaml by openapi-typescript (as
// its command line does) into lib/generated/openapi.d.ts. Written only when they changed,
// and whole: to a temporary file renamed over the old one. A reader (tsc, the lint's
// type-aware rules, in another process) never sees half a file, and an unchanged file
// keeps its time for tsc's incremental build.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';

const OUT = fileURLToPath(new URL('../lib/generated/openapi.d.ts', import.meta.url));

const types = `${COMMENT_HEADER}${astToString(await openapiTS(new URL('../openapi.yaml', import.meta.url), { silent: true }))}`;
let current;
try {
  current = readFileSync(OUT, 'utf8');
} catch {
  // not generated yet
}
if (current !== types) {
  mkdirSync(path.dirname(OUT), { recursive: true });
  const partial = `${OUT}.${process.pid}.tmp`;
  writeFileSync(partial, types);
  renameSync(partial, OUT);
}
