// The bcrypt implementation behind PasswordHasher. The default is the native `bcrypt`
// package (OpenBSD's C implementation, N-API, with prebuilt binaries for the common
// platforms inside its npm package): measured here it is about a quarter faster than
// bcryptjs at cost 12 (bench/README.md, the bcrypt floor), and authenticate's throughput is bounded by
// bcrypt. It is an optional dependency: bcryptjs, pure JavaScript, stays the portable
// engine, used wherever the native binding did not install or cannot load, or when
// BCRYPT_ENGINE=bcryptjs. Both write `$2b$` hashes and read `$2a$`/`$2b$`/`$2y$`, so
// either reads what the other (or Python's bcrypt) wrote.
import { createRequire } from 'node:module';

export type BcryptEngineName = 'native' | 'bcryptjs';
export type BcryptEnginePreference = 'auto' | BcryptEngineName;

export interface BcryptEngine {
  readonly name: BcryptEngineName;
  /** A `$2b$` hash of `password` at `cost`, with a fresh random salt. */
  hash(password: string, cost: number): string;
  /** Whether `password` matches `hash`; throws on a malformed hash. */
  verify(password: string, hash: string): boolean;
  /** Why the native engine was not used, when the preference was `auto` and it failed to load. */
  readonly fallbackReason?: string;
}

const require = createRequire(import.meta.url);

interface NativeBcrypt {
  hashSync(password: string, rounds: number): string;
  compareSync(password: string, hash: string): boolean;
}

function nativeEngine(): BcryptEngine {
  const native = require('bcrypt') as NativeBcrypt;
  return {
    name: 'native',
    hash: (password, cost) => native.hashSync(password, cost),
    verify: (password, hash) => native.compareSync(password, hash),
  };
}

function bcryptjsEngine(fallbackReason?: string): BcryptEngine {
  const bcryptjs = require('bcryptjs') as {
    hashSync(password: string, cost: number): string;
    compareSync(password: string, hash: string): boolean;
  };
  return {
    name: 'bcryptjs',
    hash: (password, cost) => bcryptjs.hashSync(password, cost),
    verify: (password, hash) => bcryptjs.compareSync(password, hash),
    ...(fallbackReason === undefined ? {} : { fallbackReason }),
  };
}

export function parseEnginePreference(raw: string | undefined): BcryptEnginePreference | undefined {
  const value = (raw ?? '').trim().toLowerCase();
  if (value === '') return 'auto';
  return value === 'auto' || value === 'native' || value === 'bcryptjs' ? value : undefined;
}

/** Loads the engine: `native` must load, `bcryptjs` is forced, `auto` tries native first. */
export function loadBcryptEngine(preference: BcryptEnginePreference = 'auto'): BcryptEngine {
  if (preference === 'bcryptjs') return bcryptjsEngine();
  if (preference === 'native') return nativeEngine();
  try {
    return nativeEngine();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return bcryptjsEngine(typeof code === 'string' ? code : error instanceof Error ? error.name : 'load failed');
  }
}
