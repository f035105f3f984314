// The functions this project builds, by name: what FUNCTION_TARGET may say. Apart from
// lib/functions.ts (which imports every handler), so that a one-function server and its
// bundle name the others without loading them.

/** The JSON functions, each answering POST (at /<name> in the development server). */
export const FUNCTION_NAMES = [
  'generate-password',
  'generate-2fa',
  'authenticate',
  'employee-events',
  'housekeeping',
] as const;
/** The web page, answering GET (at / in the development server). */
export const PORTAL = 'portal';
/** Every function, each its own image and Knative Service (FUNCTION_TARGET). */
export const ALL_FUNCTION_NAMES = [...FUNCTION_NAMES, PORTAL] as const;
export type FunctionName = (typeof ALL_FUNCTION_NAMES)[number];

export function isFunctionName(name: string): name is FunctionName {
  return (ALL_FUNCTION_NAMES as readonly string[]).includes(name);
}

/**
 * The functions whose requests hash with bcrypt: a cold start of theirs is woken by a
 * request that needs the hasher's thread, so their server starts it at once (their bundle
 * first thing, bin/early-hasher.ts; bin/serve-function.ts).
 */
export const HASHING_FUNCTIONS: readonly FunctionName[] = ['authenticate', 'generate-password'];
