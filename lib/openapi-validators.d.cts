// The validators scripts/compile-validators.mjs writes beside the compiled lib/ (one per
// schema of openapi.yaml's components/schemas), typed for lib/request-schemas.ts.
import type { ValidateFunction } from 'ajv/dist/2020.js';

declare const validators: Record<string, ValidateFunction>;
export = validators;
