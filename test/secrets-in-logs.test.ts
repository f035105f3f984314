// The run-wide log check (test/hooks/no-secrets-in-logs.ts) and the error-body check of
// the request helper must be able to fail: each matcher is shown a planted secret.
import { expect } from 'chai';
import { findLeaks, MIN_SECRET_LENGTH } from './helpers/secrets.js';
import { internalsIn } from './helpers/internals.js';
import { generatePassword } from '../lib/crypto/password.js';
import { issueToken } from '../lib/crypto/tokens.js';
import { newTotpSecret } from '../lib/crypto/totp.js';
import { SecretBox } from '../lib/crypto/fernet.js';
import { newFernetKey } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { UnsecuredJWT } from 'jose';
import { TestIssuer } from './helpers/oidc.js';

const line = (text: string): { source: string; line: string } => ({ source: 'planted', line: text });

describe('unit: the secret matchers can fail', () => {
  const password = 'ab"cd\\ef' + generatePassword(16); // a quote and a backslash: JSON-escaped in a log line
  const token = issueToken().token;
  const totpSecret = newTotpSecret();
  const key = newFernetKey();
  const known = new Map<string, string>([
    [password, 'password'],
    [token, 'token'],
    [totpSecret, 'totp secret'],
    [key, 'fernet key'],
  ]);

  it('finds each planted secret in a log line, JSON-escaped or not, and masks it in the report', () => {
    const logged: string[] = [];
    const logger = createLogger({}, (text) => logged.push(text));
    logger.info('oops', { password });
    logger.info('oops', { detail: `token=${token}` });
    const output = [
      line('{"event":"request","status":201}'),
      ...logged.map(line),
      line(`plain text ${totpSecret} in a driver message`),
      line(`key ${key}`),
    ];
    const leaks = findLeaks(output, known);
    expect(leaks.map((l) => l.kind).sort()).to.deep.equal(['fernet key', 'password', 'token', 'totp secret']);
    for (const leak of leaks) for (const secret of known.keys()) expect(leak.line).to.not.contain(secret);
  });

  it('finds a bcrypt hash and a Fernet token by their shape alone', () => {
    const sealed = new SecretBox([newFernetKey()]).encrypt('JBSWY3DPEHPK3PXP');
    const leaks = findLeaks(
      [line('{"hash":"$2b$12$abcdefghijklmnopqrstuuL5qT6YJx0fJ0jQm0lJ0wq9Oq2h7dC5e"}'), line(`sealed ${sealed}`)],
      new Map(),
    );
    expect(leaks.map((l) => l.kind)).to.deep.equal(['bcrypt hash', 'Fernet token']);
    expect(leaks[1]?.line).to.not.contain(sealed);
  });

  it("finds a JWT (the broker's OIDC token, alg none included) by its shape alone", async () => {
    const issuer = await TestIssuer.start();
    try {
      const signed = await issuer.token();
      const unsigned = new UnsecuredJWT({ sub: 'system:serviceaccount:cofrap:x' }).encode();
      const leaks = findLeaks([line(`{"authorization":"Bearer ${signed}"}`), line(`token=${unsigned} end`)], new Map());
      expect(leaks.map((l) => l.kind)).to.deep.equal(['JWT', 'JWT']);
      expect(leaks[0]?.line).to.not.contain(signed.split('.')[1]);
    } finally {
      await issuer.stop();
    }
  });

  it('reports nothing for clean output, and does not record short values such as TOTP codes', () => {
    expect(
      findLeaks([line('{"time":"2026-05-25T08:00:00.123Z","event":"request","duration_ms":123456}')], known),
    ).to.deep.equal([]);
    expect(MIN_SECRET_LENGTH).to.be.greaterThan(6);
  });

  it("flags stack frames and driver text in an error body, but not an echo of the caller's own input", () => {
    const error = new Error('relation "users" does not exist');
    expect(internalsIn(JSON.stringify({ error: error.stack }))).to.include.members([
      'stack frame',
      'source position',
      'SQL relation message',
    ]);
    expect(internalsIn('{"error":"connect ECONNREFUSED 127.0.0.1:5432"}')).to.deep.equal(['network error']);
    expect(internalsIn('{"error":"duplicate key value violates unique constraint \\"users_pkey\\""}')).to.deep.equal([
      'constraint violation',
    ]);
    expect(
      internalsIn(
        '{"error":"Unknown field \\"pg_x\\"; expected only username.","code":"invalid_request"}',
        '{"pg_x":1}',
      ),
    ).to.deep.equal([]);
    expect(
      internalsIn('{"error":"The username, password or code is not correct.","code":"invalid_credentials"}'),
    ).to.deep.equal([]);
  });
});
