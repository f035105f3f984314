// Compiles the component schemas of openapi.yaml into plain JavaScript validators at build
// time (Ajv "standalone" code), so a starting function neither loads Ajv (some 90 modules)
// nor compiles a schema: that took ~75 ms of every cold start. The Ajv comes from
// lib/openapi.ts (one configuration for every validator); the result is
// dist/lib/openapi-validators.cjs, one export per component schema and one per operation
// that takes a JSON body (named by its operationId: the JSON functions' request checks).
// lib/openapi.ts types each export with the types generated from the same document
// (lib/openapi-types.ts). Runs after tsc and copy-assets (it imports the compiled lib,
// which reads dist/openapi.json).
import { writeFileSync } from 'node:fs';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { DOCUMENT_ID, OPENAPI_DOCUMENT, newAjv } from '../dist/lib/openapi.js';

const standaloneCode = standaloneModule.default;
const ajv = newAjv({ code: { source: true } });
const refs = Object.fromEntries(
  Object.keys(OPENAPI_DOCUMENT.components.schemas).map((name) => [name, `${DOCUMENT_ID}#/components/schemas/${name}`]),
);
const escape = (key) => key.replaceAll('~', '~0').replaceAll('/', '~1');
for (const [path, item] of Object.entries(OPENAPI_DOCUMENT.paths)) {
  for (const [method, operation] of Object.entries(item)) {
    if (operation?.requestBody?.content?.['application/json']?.schema === undefined) continue;
    const { operationId } = operation;
    if (typeof operationId !== 'string')
      throw new Error(`openapi.yaml: ${method.toUpperCase()} ${path} takes JSON but has no operationId`);
    if (operationId in refs)
      throw new Error(`openapi.yaml: operationId ${operationId} is also the name of a component schema`);
    refs[operationId] = `${DOCUMENT_ID}#/paths/${escape(path)}/${method}/requestBody/content/application~1json/schema`;
  }
}
writeFileSync(
  'dist/lib/openapi-validators.cjs',
  `// Generated from openapi.yaml by scripts/compile-validators.mjs; do not edit.\n${standaloneCode(ajv, refs)}\n`,
);
