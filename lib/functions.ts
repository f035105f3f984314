// The functions this project builds, and where their compiled modules are. Loading a
// module registers its handler with the functions-framework under the same name.
import type { HttpFunction } from '@google-cloud/functions-framework';
import { getFunction } from '@google-cloud/functions-framework/testing';

/** The JSON functions, each answering POST (at /<name> in the development server). */
export const FUNCTION_NAMES = ['generate-password', 'generate-2fa', 'authenticate', 'employee-events', 'housekeeping'] as const;
/** The web page, answering GET (at / in the development server). */
export const PORTAL = 'portal';
/** Every function, each its own image and Knative Service (FUNCTION_TARGET). */
export const ALL_FUNCTION_NAMES = [...FUNCTION_NAMES, PORTAL] as const;
export type FunctionName = (typeof ALL_FUNCTION_NAMES)[number];

export function isFunctionName(name: string): name is FunctionName {
  return (ALL_FUNCTION_NAMES as readonly string[]).includes(name);
}

/** Imports a function's module and returns the handler it registered with the framework. */
export async function loadFunction(name: FunctionName): Promise<HttpFunction> {
  await import(new URL(`../functions/${name}/index.js`, import.meta.url).href);
  const registered = getFunction(name);
  if (typeof registered !== 'function') throw new Error(`function ${name} did not register an HTTP handler`);
  return registered as HttpFunction;
}
