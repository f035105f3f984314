// Compiles the component schemas of openapi.yaml into plain JavaScript validators at build
// time (Ajv "standalone" code), so a starting function neither loads Ajv (some 90 modules)
// nor compiles a schema: that took ~75 ms of every cold start. The Ajv comes from
// lib/openapi.ts (one configuration for every validator); the result is
// dist/lib/openapi-validators.cjs, one export per schema. Runs after tsc and copy-assets
// (it imports the compiled lib, which reads dist/openapi.json).
import { writeFileSync } from 'node:fs';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { DOCUMENT_ID, OPENAPI_DOCUMENT, newAjv } from '../dist/lib/openapi.js';

const standaloneCode = standaloneModule.default;
const ajv = newAjv({ code: { source: true } });
const refs = Object.fromEntries(Object.keys(OPENAPI_DOCUMENT.components.schemas).map((name) => [name, `${DOCUMENT_ID}#/components/schemas/${name}`]));
writeFileSync('dist/lib/openapi-validators.cjs', `// Generated from openapi.yaml by scripts/compile-validators.mjs; do not edit.\n${standaloneCode(ajv, refs)}\n`);
