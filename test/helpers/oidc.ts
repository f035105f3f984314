// A stand-in for the cluster's OIDC issuer (the Kubernetes API server, which signs the
// tokens Knative Eventing attaches to each delivery): key pairs made here with jose, the
// public halves served as a JWKS over real HTTP on 127.0.0.1, and a signer. Every token it
// signs is handed to the run-wide log check: none may ever appear in a log line.
//
// BROKER is one issuer for the whole run, started when this module loads: the suites that
// run a server on PostgreSQL point it there (Backend.env), and sendEmployeeEvent signs
// with it unless told otherwise, as the broker would on Knative.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { rememberSecret } from './secrets.js';

/** When a test-signed token was issued, and until when it is good: written, not read off a clock. */
export const ISSUED_AT = Date.parse('2026-01-01T00:00:00Z') / 1000;
export const EXPIRES_AT = Date.parse('2100-01-01T00:00:00Z') / 1000;

export type SigningAlgorithm = 'RS256' | 'ES256';

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface IssuerOptions {
  issuer?: string;
  audience?: string;
  subject?: string;
  sources?: string[];
  alg?: SigningAlgorithm;
}

export interface TokenOptions {
  /** Claims to set; a claim given as undefined is left out of the token. */
  claims?: Record<string, unknown>;
  /** The key to sign with (default: the newest published key). */
  key?: SigningKey;
  /** Protected header fields to set over { alg, kid } (e.g. another kid). */
  header?: Record<string, unknown>;
}

let keyCount = 0;

export async function newSigningKey(alg: SigningAlgorithm = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const kid = `test-key-${++keyCount}-${alg.toLowerCase()}`;
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export class TestIssuer {
  /** Keys in the published JWKS; the last one signs by default. */
  readonly published: SigningKey[] = [];
  /** Authorization headers of the JWKS requests, in order. */
  readonly jwksRequests: Array<string | undefined> = [];
  /** When set, the JWKS answers 401 unless asked with `Authorization: Bearer <this>` (as the API server does). */
  requiredBearer: string | undefined;
  readonly issuer: string;
  readonly audience: string;
  readonly subject: string;
  readonly sources: string[];
  private server: http.Server | undefined;
  private port = 0;

  private constructor(options: IssuerOptions) {
    this.issuer = options.issuer ?? 'https://kubernetes.default.svc.cluster.local';
    this.audience = options.audience ?? 'cofrap/employee-events';
    this.subject = options.subject ?? 'system:serviceaccount:cofrap:hr-events-oidc-eventing.knative.dev-trigger';
    this.sources = options.sources ?? ['/hr/workday', '/it/helpdesk'];
  }

  static async start(options: IssuerOptions = {}): Promise<TestIssuer> {
    const issuer = new TestIssuer(options);
    issuer.published.push(await newSigningKey(options.alg));
    await issuer.listen();
    return issuer;
  }

  get jwksUrl(): string {
    return `http://127.0.0.1:${this.port}/openid/v1/jwks`;
  }

  /** The service's settings that trust this issuer (and its sources), over `extra`. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      EVENTS_OIDC_ISSUER: this.issuer,
      EVENTS_OIDC_AUDIENCE: this.audience,
      EVENTS_OIDC_JWKS_URL: this.jwksUrl,
      EVENTS_OIDC_SUBJECTS: `system:serviceaccount:cofrap:someone-else,${this.subject}`,
      HR_EVENT_SOURCES: this.sources.join(','),
      ...extra,
    };
  }

  get currentKey(): SigningKey {
    const key = this.published.at(-1);
    if (key === undefined) throw new Error('the issuer publishes no key');
    return key;
  }

  /** A new key, published and signing from now on; the older ones stay published unless `retire`. */
  async rotate(options: { retire?: boolean; alg?: SigningAlgorithm } = {}): Promise<SigningKey> {
    const key = await newSigningKey(options.alg);
    if (options.retire) this.published.splice(0, this.published.length);
    this.published.push(key);
    return key;
  }

  /** A token as Knative Eventing gets one for a delivery, with `options` applied over it. */
  async token(options: TokenOptions = {}): Promise<string> {
    const key = options.key ?? this.currentKey;
    const claims: Record<string, unknown> = {
      iss: this.issuer,
      aud: this.audience,
      sub: this.subject,
      iat: ISSUED_AT,
      nbf: ISSUED_AT,
      exp: EXPIRES_AT,
      ...options.claims,
    };
    const payload = Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined)) as JWTPayload;
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, ...options.header })
      .sign(key.privateKey);
    rememberSecret(token, 'token');
    return token;
  }

  private validToken: Promise<string> | undefined;

  /** One valid token for the run: the log check then has one value to look for, not thousands. */
  brokerToken(): Promise<string> {
    this.validToken ??= this.token();
    return this.validToken;
  }

  private listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.jwksRequests.push(req.headers.authorization);
      if (req.url !== '/openid/v1/jwks') return void res.writeHead(404).end();
      if (this.requiredBearer !== undefined && req.headers.authorization !== `Bearer ${this.requiredBearer}`) {
        return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","code":401}');
      }
      res
        .writeHead(200, { 'content-type': 'application/jwk-set+json' })
        .end(JSON.stringify({ keys: this.published.map((key) => key.publicJwk) }));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        // The run's own issuer must not keep mocha alive.
        server.unref();
        resolve();
      });
    });
  }

  /** The JWKS stops answering (the port refuses connections) until `resume`. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Serves the JWKS again, on the same port. */
  async resume(): Promise<void> {
    if (this.server === undefined) await this.listen();
  }
}

/** The broker's issuer for the whole run. */
export const BROKER = await TestIssuer.start();

/** `Authorization` with the run's valid broker token, for requests built by hand. */
export async function brokerAuthorization(): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await BROKER.brokerToken()}` };
}
