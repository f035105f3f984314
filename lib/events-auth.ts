// Who may change accounts through events (contract §7): only the broker, proven by the
// OIDC token Knative Eventing attaches to each delivery, and only on behalf of the HR
// system or the IT helpdesk, named by the event's `source`. The embedded development mode
// alone accepts events without either check when they are not configured (it says so at
// start); against a real PostgreSQL server the process refuses to start without them,
// and should one get this far unconfigured, every event is refused.
import type { Config, EventsOidcConfig } from './config.js';
import { forbidden, unauthenticated, unavailable } from './http/errors.js';
import type { BeforeBody } from './http/function.js';
import { describeError } from './log.js';
import type { LogFields, Logger } from './log.js';
import { KeysUnavailable, TokenRefused, createOidcVerifier } from './oidc-verifier.js';
import type { OidcVerifier } from './oidc-verifier.js';

// One verifier per configuration and audience, so the JWKS cache lives as long as the process.
const verifiers = new WeakMap<EventsOidcConfig, Map<string, OidcVerifier>>();

function verifierFor(oidc: EventsOidcConfig, audience: string): OidcVerifier {
  let byAudience = verifiers.get(oidc);
  if (byAudience === undefined) verifiers.set(oidc, (byAudience = new Map<string, OidcVerifier>()));
  let verifier = byAudience.get(audience);
  if (verifier === undefined) {
    verifier = createOidcVerifier({
      issuer: oidc.issuer,
      audience,
      jwksUrl: oidc.jwksUrl,
      subjects: oidc.subjects,
      jwksTokenFile: oidc.jwksTokenFile,
      jwksCooldownSeconds: oidc.jwksCooldownSeconds,
    });
    byAudience.set(audience, verifier);
  }
  return verifier;
}

/** The token of `Authorization: Bearer <token>`; '' when the header is there but not that. */
function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  return /^Bearer +([!-~]+) *$/i.exec(authorization)?.[1] ?? '';
}

/** Where the keys come from, without whatever a URL might carry beside it. */
function jwksLocation(url: string): string {
  const parsed = new URL(url);
  return parsed.origin + parsed.pathname;
}

/** The errno behind a failed fetch (ECONNREFUSED, ENOTFOUND…), which fetch wraps in a TypeError. */
function rootCode(error: unknown): LogFields {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && cause !== error) return { cause_code: code };
  }
  return {};
}

/**
 * The check a function runs before reading the body: the request must carry a token from
 * the broker for this function's `audience` (employee-events: EVENTS_OIDC_AUDIENCE;
 * housekeeping will pass its own). 401 `unauthenticated` with one body whatever the
 * reason, which goes to the log (never the token); 503 when the issuer's keys cannot be
 * fetched, so the broker retries instead of anything being accepted.
 */
export function verifiedSender(audience: (oidc: EventsOidcConfig) => string = (oidc) => oidc.audience): BeforeBody {
  return async ({ config }, { header, log }) => {
    const oidc = config.eventsOidc;
    if (oidc === undefined) {
      if (config.database.kind === 'embedded') return;
      log.error('events_oidc_not_configured', {
        note: 'EVENTS_OIDC_* unset outside the embedded mode: every event is refused',
      });
      throw unauthenticated();
    }
    // '' (a header that is not a bearer token) is refused as malformed, not as missing.
    const token = bearerToken(header('authorization'));
    try {
      if (token === '') throw new TokenRefused('malformed');
      const sender = await verifierFor(oidc, audience(oidc))(token);
      log.debug('event_sender_verified', { subject: sender.subject });
    } catch (error) {
      if (error instanceof TokenRefused) {
        log.warn('event_sender_refused', {
          reason: error.reason,
          ...(error.subject === undefined ? {} : { subject: error.subject }),
        });
        throw unauthenticated();
      }
      if (error instanceof KeysUnavailable) {
        log.error('event_sender_keys_unavailable', {
          jwks: jwksLocation(oidc.jwksUrl),
          ...describeError(error.cause),
          ...rootCode(error.cause),
        });
        throw unavailable();
      }
      throw error;
    }
  };
}

/**
 * After authentication, before anything is written: the event must come from one of
 * HR_EVENT_SOURCES (403 `forbidden`). The broker proves who delivers; the source says on
 * whose behalf, and only HR and the helpdesk may change accounts.
 */
export function requireAllowedSource(config: Config, source: string, log: Logger): void {
  const allowed = config.hrEventSources;
  if (allowed === undefined) {
    if (config.database.kind === 'embedded') return;
    log.error('hr_event_sources_not_configured', {
      note: 'HR_EVENT_SOURCES unset outside the embedded mode: every event is refused',
    });
    throw forbidden();
  }
  if (allowed.includes(source)) return;
  log.warn('event_source_refused', { source });
  throw forbidden();
}
