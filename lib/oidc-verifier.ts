// Verifies an OIDC token (a JWT) such as Knative Eventing attaches to each delivery, with
// the `jose` library: signature against the issuer's published keys (JWKS), issuer,
// audience, expiry and not-before, and the subject against a list. Kept apart from HTTP so
// that every receiver (employee-events, housekeeping) can use it with its own audience.
import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, customFetch, errors, jwtVerify } from 'jose';
import type { FetchImplementation, FlattenedJWSInput, JWSHeaderParameters, JWTVerifyGetKey } from 'jose';

/**
 * Asymmetric algorithms only. With an HS* algorithm a forger signs with the public key as
 * the secret; `none` carries no signature at all (jose never accepts it, and it is not here).
 */
export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** Clocks of the API server and of our node may disagree a little; a token lives an hour. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** Under the broker's delivery timeout, so a slow JWKS is answered 503 (retried), not dropped. */
export const JWKS_TIMEOUT_MS = 5_000;

export interface OidcVerifierSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Accepted `sub` values; undefined accepts any subject (development only). */
  subjects: readonly string[] | undefined;
  /** A file holding a bearer token for the JWKS request, read at each fetch. */
  jwksTokenFile?: string | undefined;
  /** Least time between two fetches caused by an unknown key id (jose's default: 30 s). */
  jwksCooldownSeconds?: number;
  /** The clock the expiry and not-before checks use (tests inject one). */
  now?: () => Date;
}

/** Why a token was refused: for the log, never for the answer. */
export type RefusalReason =
  | 'no_token'
  | 'malformed'
  | 'algorithm'
  | 'unknown_key'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issuer'
  | 'audience'
  | 'subject'
  | 'claims';

/** The token does not prove the sender: answer 401. */
export class TokenRefused extends Error {
  override name = 'TokenRefused';
  constructor(
    readonly reason: RefusalReason,
    /** The verified subject, only when the token was genuine but from someone not allowed. */
    readonly subject?: string,
  ) {
    super(`token refused: ${reason}`);
  }
}

/** The issuer's keys could not be fetched: nothing can be verified now, answer 503. */
export class KeysUnavailable extends Error {
  override name = 'KeysUnavailable';
  constructor(override readonly cause: unknown) {
    super('the JSON Web Key Set could not be fetched');
  }
}

export interface VerifiedSender {
  subject: string;
}

export type OidcVerifier = (token: string | undefined) => Promise<VerifiedSender>;

/** The fetch jose uses, with `Authorization: Bearer <file content>` added when a file is given. */
function jwksFetch(tokenFile: string | undefined): FetchImplementation {
  if (tokenFile === undefined) return (url, options) => fetch(url, options);
  return async (url, options) => {
    const headers = new Headers(options.headers);
    headers.set('authorization', `Bearer ${(await readFile(tokenFile, 'utf8')).trim()}`);
    return fetch(url, { ...options, headers });
  };
}

/**
 * The key resolver: jose's remote JWKS (cached; fetched again when a token names a key id
 * it does not hold, at most once per cooldown), with every failure to obtain the keys told
 * apart from a token that matches none of them.
 */
function keyResolver(settings: OidcVerifierSettings): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(settings.jwksUrl), {
    timeoutDuration: JWKS_TIMEOUT_MS,
    cooldownDuration: (settings.jwksCooldownSeconds ?? 30) * 1000,
    [customFetch]: jwksFetch(settings.jwksTokenFile),
  });
  return async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    try {
      return await remote(header, token);
    } catch (error) {
      // These say the token names no usable key; anything else (network, timeout, a
      // non-200 answer, a malformed key set, an unreadable token file) is the issuer's side.
      if (
        error instanceof errors.JWKSNoMatchingKey ||
        error instanceof errors.JWKSMultipleMatchingKeys ||
        error instanceof errors.JOSENotSupported
      )
        throw error;
      throw new KeysUnavailable(error);
    }
  };
}

function reasonOf(error: errors.JOSEError): RefusalReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'not_yet_valid';
    if (error.claim === 'iss') return 'issuer';
    if (error.claim === 'aud') return 'audience';
    return 'claims';
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'algorithm';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
    return 'unknown_key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  return 'malformed';
}

export function createOidcVerifier(settings: OidcVerifierSettings): OidcVerifier {
  const getKey = keyResolver(settings);
  const subjects = settings.subjects === undefined ? undefined : new Set(settings.subjects);
  return async (token) => {
    if (token === undefined || token === '') throw new TokenRefused('no_token');
    let subject: string;
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: ALLOWED_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
        ...(settings.now === undefined ? {} : { currentDate: settings.now() }),
      });
      subject = payload.sub as string;
    } catch (error) {
      if (error instanceof KeysUnavailable) throw error;
      if (error instanceof errors.JOSEError) throw new TokenRefused(reasonOf(error));
      throw error;
    }
    if (subjects !== undefined && !subjects.has(subject)) throw new TokenRefused('subject', subject);
    return { subject };
  };
}
