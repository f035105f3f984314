// Compiles the request schemas of openapi.yaml into plain JavaScript validators at build
// time (Ajv "standalone" code), so a starting function neither loads Ajv (some 90 modules)
// nor compiles a schema: that took ~75 ms of every cold start. The same Ajv options as
// lib/openapi.ts; the result is dist/lib/openapi-validators.cjs, one export per schema of
// components/schemas. Runs after copy-assets (it reads dist/openapi.json).
import { readFileSync, writeFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneModule from 'ajv/dist/standalone/index.js';
import addFormatsModule from 'ajv-formats';

const standaloneCode = standaloneModule.default;
const addFormats = addFormatsModule.default;
const DOCUMENT_ID = 'openapi.json';

const document = JSON.parse(readFileSync('dist/openapi.json', 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: false, verbose: true, code: { source: true } });
addFormats(ajv);
ajv.addSchema(document, DOCUMENT_ID);
const refs = Object.fromEntries(Object.keys(document.components.schemas).map((name) => [name, `${DOCUMENT_ID}#/components/schemas/${name}`]));
writeFileSync('dist/lib/openapi-validators.cjs', `// Generated from openapi.yaml by scripts/compile-validators.mjs; do not edit.\n${standaloneCode(ajv, refs)}\n`);
