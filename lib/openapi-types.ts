// The bodies openapi.yaml describes, as TypeScript types. `npm run generate` (run by
// `npm run build` and `npm run typecheck` before tsc) writes lib/generated/openapi.d.ts
// from openapi.yaml with openapi-typescript; nothing here is copied by hand, so a handler
// that reads a field the document does not declare, or answers a body it does not
// describe, does not compile.
import type { components, operations } from './generated/openapi.js';

export type Schemas = components['schemas'];
export type SchemaName = keyof Schemas;

// A JSON body is an object here (the envelope sends objects and text), which `extends object` tells the compiler.
type JsonContent<T> = T extends { content: { 'application/json': infer Body extends object } } ? Body : never;

/** The operations that take a JSON request body; scripts/compile-validators.mjs compiles a validator for each. */
export type JsonOperation = {
  [Op in keyof operations]: [JsonContent<operations[Op]['requestBody']>] extends [never] ? never : Op;
}[keyof operations];

/** The JSON request body of an operation, as its validator admits it. */
export type RequestBody<Op extends JsonOperation> = JsonContent<operations[Op]['requestBody']>;

type Responses<Op extends keyof operations> = operations[Op]['responses'];
type SuccessStatus<Op extends keyof operations> = keyof Responses<Op> & (200 | 201);

/** A success answer of an operation: one of its documented 2xx statuses, with that status's JSON body. */
export type SuccessReply<Op extends keyof operations> = {
  [Status in SuccessStatus<Op>]: { status: Status; body: JsonContent<Responses<Op>[Status]> };
}[SuccessStatus<Op>];

/** The machine codes of the error bodies. */
export type ErrorCode = Schemas['ErrorCode'];
