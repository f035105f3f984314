// The shared library's pieces, each against an outside reference: RFC vectors, the
// Python-made fixtures, the contract's rules.
import { expect } from 'chai';
import { generatePassword, hasEveryClass, PASSWORD_ALPHABET } from '../lib/crypto/password.js';
import { hashToken, issueToken } from '../lib/crypto/tokens.js';
import { SecretBox } from '../lib/crypto/fernet.js';
import { newTotpSecret, otpauthUri, verifyTotp } from '../lib/crypto/totp.js';
import { PasswordHasher } from '../lib/crypto/bcrypt.js';
import { loadBcryptEngine } from '../lib/crypto/bcrypt-engine.js';
import { ConfigError, loadConfig, newFernetKey } from '../lib/config.js';
import { decideLogin, decidePasswordChange } from '../lib/lifecycle.js';
import type { CredentialSet, LoginState, PasswordChange, PresentedToken } from '../lib/lifecycle.js';
import type { PasswordChangeState } from '../lib/lifecycle.js';
import { HttpError } from '../lib/http/errors.js';
import { validateBody } from '../lib/validation.js';
import { normaliseUsername, usernameOf } from '../lib/usernames.js';

/** As generate-password reads a username: the body's schema, then normalisation and the Username schema. */
const requireUsername = (body: Record<string, unknown>): string =>
  usernameOf(validateBody('GeneratePasswordRequest', body).username);
import { qrPngBase64 } from '../lib/qr.js';
import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import {
  HeaderEncodingError,
  binaryMessage,
  decodeHeaderValue,
  encodeHeaderValue,
  eventFromMessage,
} from '../lib/cloudevents-http.js';
import { decodeQrPng } from './helpers/qr.js';
import { encode as encodePng } from 'fast-png';
import { PNG } from 'pngjs';
import { base32Decode, codeAt, hotp } from './helpers/totp.js';
import { makeSecretsDir, seedFixture } from './helpers/backends.js';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

describe('unit: password generation', () => {
  it('draws 24 characters from the 94-character alphabet with every class present', () => {
    expect(PASSWORD_ALPHABET).to.have.length(94);
    for (let i = 0; i < 500; i++) {
      const password = generatePassword();
      expect(password).to.have.length(24);
      expect([...password].every((c) => PASSWORD_ALPHABET.includes(c))).to.equal(true);
      expect(hasEveryClass(password), password).to.equal(true);
    }
  });

  it('uses every character of the alphabet with roughly equal frequency', () => {
    const counts = new Map<string, number>();
    const samples = 2000;
    for (let i = 0; i < samples; i++) for (const c of generatePassword()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).to.equal(94);
    const expected = (samples * 24) / 94;
    for (const [char, count] of counts) expect(Math.abs(count - expected) / expected, char).to.be.lessThan(0.25);
  });
});

describe('unit: tokens', () => {
  it('issues 256-bit url-safe tokens and stores only their SHA-256', () => {
    const a = issueToken();
    const b = issueToken();
    expect(a.token).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.token, 'base64url')).to.have.length(32);
    expect(a.hash)
      .to.equal(hashToken(a.token))
      .and.to.match(/^[0-9a-f]{64}$/);
    expect(a.token).to.not.equal(b.token);
  });
});

describe('unit: TOTP', () => {
  // RFC 6238 appendix B, SHA-1, key "12345678901234567890"; the last 6 digits of each value.
  const rfcSecret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const vectors: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];

  it('our test-side HOTP reproduces the RFC 6238 SHA-1 vectors', () => {
    expect(base32Decode(rfcSecret).toString()).to.equal('12345678901234567890');
    for (const [time, code] of vectors) expect(hotp(base32Decode(rfcSecret), Math.floor(time / 30), 8)).to.equal(code);
  });

  it('the library accepts each RFC vector at its time and returns the step', async () => {
    for (const [time, code] of vectors) {
      expect(await verifyTotp(rfcSecret, code.slice(-6), null, time)).to.equal(Math.floor(time / 30));
    }
  });

  it('accepts the current step ±1, refuses ±2, and refuses steps not after the last accepted one', async () => {
    const secret = newTotpSecret();
    expect(secret).to.match(/^[A-Z2-7]{32}$/);
    const now = 1_800_000_015;
    const step = Math.floor(now / 30);
    for (const delta of [-1, 0, 1])
      expect(await verifyTotp(secret, codeAt(secret, step + delta), null, now)).to.equal(step + delta);
    for (const delta of [-2, 2])
      expect(await verifyTotp(secret, codeAt(secret, step + delta), null, now)).to.equal(undefined);
    expect(await verifyTotp(secret, codeAt(secret, step), step, now)).to.equal(undefined);
    expect(await verifyTotp(secret, codeAt(secret, step + 1), step, now)).to.equal(step + 1);
    expect(await verifyTotp(secret, 'abcdef', null, now)).to.equal(undefined);
  });

  it('builds the otpauth URI authenticator apps expect', () => {
    const uri = new URL(otpauthUri('JBSWY3DPEHPK3PXP', 'alice', 'COFRAP Secure'));
    expect(uri.protocol).to.equal('otpauth:');
    expect(uri.host).to.equal('totp');
    expect(decodeURIComponent(uri.pathname)).to.equal('/COFRAP Secure:alice');
    expect(uri.searchParams.get('secret')).to.equal('JBSWY3DPEHPK3PXP');
    expect(uri.searchParams.get('issuer')).to.equal('COFRAP Secure');
    expect(uri.searchParams.get('digits') ?? '6').to.equal('6');
    expect(uri.searchParams.get('period') ?? '30').to.equal('30');
    expect((uri.searchParams.get('algorithm') ?? 'SHA1').toUpperCase()).to.equal('SHA1');
  });
});

describe('unit: Fernet', () => {
  const fixture = seedFixture();
  const pythonRow = fixture.rows.find((row) => row.mfa_secret !== null);

  it('opens a token made by Python cryptography.fernet', () => {
    const box = new SecretBox([fixture.fernet_key]);
    expect(box.decrypt(pythonRow?.mfa_secret as string)).to.equal(pythonRow?.totp_secret);
  });

  it('encrypts with the first key and decrypts with any configured key', () => {
    const fresh = newFernetKey();
    const box = new SecretBox([fresh, fixture.fernet_key]);
    expect(box.decrypt(pythonRow?.mfa_secret as string)).to.equal(pythonRow?.totp_secret);
    const sealed = box.encrypt('SECRET');
    expect(sealed.startsWith('gAAAAA')).to.equal(true);
    expect(new SecretBox([fresh]).decrypt(sealed)).to.equal('SECRET');
    expect(new SecretBox([fixture.fernet_key]).decrypt(sealed)).to.equal(undefined);
  });

  it('refuses a tampered token', () => {
    const box = new SecretBox([newFernetKey()]);
    const sealed = box.encrypt('SECRET');
    const tampered = sealed.slice(0, 30) + (sealed[30] === 'A' ? 'B' : 'A') + sealed.slice(31);
    expect(box.decrypt(tampered)).to.equal(undefined);
  });
});

describe('unit: bcrypt on worker threads', function () {
  this.timeout(20_000);
  const hasher = new PasswordHasher(12, 2);
  after(() => hasher.close());

  it('verifies a Python bcrypt $2b$ cost-12 hash', async () => {
    const row = seedFixture().rows[0];
    expect(row?.password_hash.startsWith('$2b$12$')).to.equal(true);
    expect(await hasher.verify(row?.password as string, row?.password_hash as string)).to.equal(true);
    expect(await hasher.verify('wrong', row?.password_hash as string)).to.equal(false);
  });

  it('hashes at the configured cost and treats a malformed hash as a mismatch', async () => {
    const hash = await hasher.hash('p@ss');
    expect(hash).to.match(/^\$2[ab]\$12\$/);
    expect(await hasher.verify('p@ss', hash)).to.equal(true);
    expect(await hasher.verify('p@ss', 'not-a-hash')).to.equal(false);
    expect(await hasher.verifyDummy('p@ss')).to.equal(false);
  });
});

describe('unit: bcrypt engines (native default, bcryptjs fallback) read each other and Python', function () {
  this.timeout(20_000);
  const native = loadBcryptEngine('native');
  const portable = loadBcryptEngine('bcryptjs');

  it('loads the native engine by default on this platform', () => {
    expect(loadBcryptEngine('auto').name).to.equal('native');
    expect(native.name).to.equal('native');
    expect(portable.name).to.equal('bcryptjs');
  });

  for (const [writer, reader] of [
    [native, portable],
    [portable, native],
  ] as const) {
    it(`${reader.name} verifies a $2b$ hash written by ${writer.name}, and the Python fixture`, () => {
      const hash = writer.hash('p@ss w0rd é', 10);
      expect(hash).to.match(/^\$2b\$10\$/);
      expect(reader.verify('p@ss w0rd é', hash)).to.equal(true);
      expect(reader.verify('p@ss w0rd e', hash)).to.equal(false);
      const row = seedFixture().rows[0];
      expect(reader.verify(row?.password as string, row?.password_hash as string)).to.equal(true);
    });
  }

  it('a pool forced to bcryptjs says so and still hashes $2b$', async () => {
    const hasher = new PasswordHasher(10, 1, 'bcryptjs');
    try {
      expect(await hasher.engine()).to.equal('bcryptjs');
      const hash = await hasher.hash('x');
      expect(hash).to.match(/^\$2b\$10\$/);
      expect(native.verify('x', hash)).to.equal(true);
    } finally {
      await hasher.close();
    }
  });
});

describe('unit: QR codes', () => {
  it('encodes text that decodes back exactly, punctuation included', async () => {
    for (let i = 0; i < 20; i++) {
      const password = generatePassword();
      expect(decodeQrPng(await qrPngBase64(password))).to.equal(password);
    }
  });

  it("the tests' reader also reads 8-bit greyscale, RGB and RGBA PNGs (a browser's screenshots), and 16-bit ones", async () => {
    const password = generatePassword();
    const pixels = PNG.sync.read(Buffer.from(await qrPngBase64(password), 'base64'));
    for (const colorType of [0, 2, 6] as const) {
      const png = PNG.sync.write(pixels, { colorType, inputHasAlpha: true });
      expect(decodeQrPng(png.toString('base64')), `PNG colour type ${colorType}`).to.equal(password);
    }
    const deep = new Uint16Array(pixels.data.length).map((_, i) => (pixels.data[i] as number) * 257);
    const png16 = encodePng({ width: pixels.width, height: pixels.height, data: deep, depth: 16, channels: 4 });
    expect(decodeQrPng(Buffer.from(png16).toString('base64')), '16 bits per sample').to.equal(password);
  });
});

describe('unit: usernames', () => {
  it('normalises by trimming, NFC and lower case', () => {
    expect(normaliseUsername('  Alice ')).to.equal('alice');
    expect(normaliseUsername('E\u0301LODIE')).to.equal('\u00e9lodie');
    expect(requireUsername({ username: 'Jean.Dupont@cofrap' })).to.equal('jean.dupont@cofrap');
  });

  it('refuses empty, too long, forbidden characters and wrong types, naming the field', () => {
    for (const username of [
      '',
      '   ',
      'a'.repeat(65),
      'a b',
      'a/b',
      "x'; DROP TABLE users;--",
      'a\u0000b',
      'a\u202eb',
      42,
      null,
      ['a'],
    ]) {
      try {
        requireUsername({ username });
        expect.fail(`accepted ${JSON.stringify(username)}`);
      } catch (error) {
        expect(error).to.be.instanceOf(HttpError);
        expect((error as HttpError).status).to.equal(400);
        expect((error as HttpError).message).to.contain('username');
      }
    }
    expect(requireUsername({ username: 'a'.repeat(64) })).to.have.length(64);
  });
});

describe('unit: configuration', () => {
  const secretsDir = makeSecretsDir();
  const base = { POSTGRES_HOST: '127.0.0.1', SECRETS_DIR: secretsDir };
  after(() => rmSync(secretsDir, { recursive: true, force: true }));

  it('applies the contract defaults', () => {
    const config = loadConfig(base);
    expect(config).to.include({
      port: 8080,
      bcryptCost: 12,
      credentialMaxAge: '6 months',
      enrollmentTtl: '15 minutes',
      renewalTtl: '15 minutes',
      invitationTtl: '7 days',
      totpIssuer: 'COFRAP Secure',
      selfRegistration: true,
    });
    expect(config.database).to.deep.equal({
      kind: 'postgres',
      connection: {
        host: '127.0.0.1',
        port: 5432,
        database: 'cofrap_db',
        user: 'postgres',
        password: readFileSync(path.join(secretsDir, 'db-credentials-password'), 'utf8').trim(),
      },
      poolMax: 10,
    });
    expect(config.encryptionKeys).to.have.length(2);
  });

  it('lets DATABASE_URL win over POSTGRES_*', () => {
    const config = loadConfig({ ...base, DATABASE_URL: 'postgresql://u:p@db:5432/x' });
    expect(config.database).to.deep.equal({
      kind: 'postgres',
      connection: { connectionString: 'postgresql://u:p@db:5432/x' },
      poolMax: 10,
    });
  });

  const invalid: Array<[Record<string, string>, string]> = [
    [{ BCRYPT_COST: '9' }, 'BCRYPT_COST'],
    [{ BCRYPT_COST: '16' }, 'BCRYPT_COST'],
    [{ BCRYPT_COST: 'twelve' }, 'BCRYPT_COST'],
    [{ PORT: '70000' }, 'PORT'],
    [{ CREDENTIAL_MAX_AGE: 'six months' }, 'CREDENTIAL_MAX_AGE'],
    [{ ENROLLMENT_TTL: '15 fortnights' }, 'ENROLLMENT_TTL'],
    [{ SELF_REGISTRATION: 'maybe' }, 'SELF_REGISTRATION'],
    [{ BCRYPT_ENGINE: 'fastest' }, 'BCRYPT_ENGINE'],
    [{ CORS_ALLOWED_ORIGINS: 'not an origin' }, 'CORS_ALLOWED_ORIGINS'],
    [{ DATABASE_URL: 'nonsense' }, 'DATABASE_URL'],
    [{ SECRETS_DIR: '/nonexistent/cofrap' }, 'encryption-key'],
    [{ POSTGRES_HOST: '', K_SERVICE: 'authenticate' }, 'K_SERVICE'],
  ];
  for (const [env, named] of invalid) {
    it(`stops on ${JSON.stringify(env)} with a message naming ${named}`, () => {
      expect(() => loadConfig({ ...base, ...env })).to.throw(ConfigError, named);
    });
  }
});

describe('unit: lifecycle decisions', () => {
  const state = (over: Partial<PasswordChangeState>): PasswordChangeState => ({
    status: 'active',
    provenance: 'self',
    everActive: true,
    enrollmentOpen: false,
    tokenValid: false,
    ...over,
  });
  const outcomeOf = (run: () => PasswordChange): string => {
    try {
      return run().kind;
    } catch (error) {
      return (error as HttpError).code;
    }
  };
  const invitation: PresentedToken = { kind: 'invitation', token: 't' };
  const renewal: PresentedToken = { kind: 'renewal', token: 't' };
  const never = { everActive: false };

  // [case, account, token, self-registration, outcome] — the rows of contract §4
  const table: Array<[string, PasswordChangeState | undefined, PresentedToken | undefined, boolean, string]> = [
    ['none, self-registration on', undefined, undefined, true, 'create'],
    ['none, self-registration off', undefined, undefined, false, 'invalid_token'],
    ['none, any token', undefined, renewal, true, 'invalid_token'],
    [
      'invited, valid invitation',
      state({ status: 'invited', provenance: 'hr', ...never, tokenValid: true }),
      invitation,
      false,
      'restart',
    ],
    [
      'invited, wrong invitation',
      state({ status: 'invited', provenance: 'hr', ...never }),
      invitation,
      true,
      'invalid_token',
    ],
    ['invited, no token', state({ status: 'invited', provenance: 'hr', ...never }), undefined, true, 'account_exists'],
    [
      'pending from an invitation, valid invitation again',
      state({ status: 'pending', provenance: 'hr', ...never, tokenValid: true }),
      invitation,
      true,
      'restart',
    ],
    [
      'pending from an invitation, window lapsed, no token',
      state({ status: 'pending', provenance: 'hr', ...never }),
      undefined,
      true,
      'account_exists',
    ],
    [
      'pending self-registered, window open',
      state({ status: 'pending', ...never, enrollmentOpen: true }),
      undefined,
      true,
      'account_exists',
    ],
    ['pending self-registered, window lapsed', state({ status: 'pending', ...never }), undefined, true, 'restart'],
    [
      'pending seed row, window lapsed',
      state({ status: 'pending', provenance: 'seed', ...never }),
      undefined,
      true,
      'restart',
    ],
    ['pending once active, window lapsed', state({ status: 'pending' }), undefined, true, 'account_exists'],
    ['active, no token', state({}), undefined, true, 'account_exists'],
    ['active, made-up renewal token', state({}), renewal, true, 'invalid_token'],
    ['active, valid renewal token', state({ tokenValid: true }), renewal, true, 'stage'],
    [
      'active, valid invitation token of a once-active account',
      state({ tokenValid: true }),
      invitation,
      true,
      'invalid_token',
    ],
    ['disabled, no token', state({ status: 'disabled' }), undefined, true, 'account_exists'],
    ['disabled, made-up token', state({ status: 'disabled' }), renewal, true, 'invalid_token'],
    ['disabled, a token that matched', state({ status: 'disabled', tokenValid: true }), renewal, true, 'invalid_token'],
  ];
  for (const [label, account, token, selfRegistration, expected] of table) {
    it(`generate-password: ${label} → ${expected}`, () => {
      expect(outcomeOf(() => decidePasswordChange(account, token, selfRegistration))).to.equal(expected);
    });
  }

  const logins: Array<[LoginState, CredentialSet, string]> = [
    [{ status: 'disabled', isExpired: true }, 'current', 'disabled'],
    [{ status: 'disabled', isExpired: false }, 'staged', 'disabled'],
    [{ status: 'active', isExpired: true }, 'current', 'expired'],
    [{ status: 'active', isExpired: true }, 'staged', 'promoted'],
    [{ status: 'pending', isExpired: true }, 'current', 'expired'],
    [{ status: 'pending', isExpired: false }, 'current', 'activated'],
    [{ status: 'active', isExpired: false }, 'current', 'signed_in'],
    [{ status: 'active', isExpired: false }, 'staged', 'promoted'],
  ];
  for (const [account, proven, expected] of logins) {
    it(`authenticate: ${account.status}${account.isExpired ? ' (expired)' : ''} with the ${proven} credentials → ${expected}`, () => {
      expect(decideLogin(account, proven)).to.equal(expected);
    });
  }
});

describe('unit: database errors answered 503', () => {
  it('a failed rollback after a lost connection is still a lost connection', async () => {
    const { isDatabaseUnavailable } = await import('../lib/db/errors.js');
    expect(
      isDatabaseUnavailable(new Error('rollback failed', { cause: new Error('Connection terminated unexpectedly') })),
    ).to.equal(true);
    expect(isDatabaseUnavailable(new Error('rollback failed', { cause: new Error('boom') }))).to.equal(false);
    expect(
      isDatabaseUnavailable(
        Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      ),
    ).to.equal(true);
  });
});

describe('unit: CloudEvents HTTP header values (binding 1.0.2 §3.1.3.2)', () => {
  // Expected forms worked out by hand from the UTF-8 bytes; the binding's own example first.
  const VECTORS: Array<[string, string]> = [
    ['Euro € 😀', 'Euro%20%E2%82%AC%20%F0%9F%98%80'],
    ['paweł', 'pawe%C5%82'],
    ['иван', '%D0%B8%D0%B2%D0%B0%D0%BD'],
    ['李雷', '%E6%9D%8E%E9%9B%B7'],
    ['zoë', 'zo%C3%AB'],
    ['a b', 'a%20b'],
    ['50%', '50%25'],
    ['"q"', '%22q%22'],
    ['🎉', '%F0%9F%8E%89'],
    ['/hr/workday?x=1&y=~', '/hr/workday?x=1&y=~'], // printable ASCII other than " and % stays readable
  ];
  const PRINTABLE_ASCII = /^[\x21-\x7E]*$/;

  it('encodes each character outside U+0021–U+007E, and space, " and %, from its UTF-8 bytes in upper-case hex', () => {
    for (const [value, encoded] of VECTORS) expect(encodeHeaderValue(value), value).to.equal(encoded);
  });

  it('round-trips paweł, иван, 李雷, zoë, a b, 50%, "q" and emoji; the platform\'s decoder agrees', () => {
    for (const [value] of VECTORS) {
      const encoded = encodeHeaderValue(value);
      expect(encoded, value).to.match(PRINTABLE_ASCII);
      expect(decodeHeaderValue(encoded), value).to.equal(value);
      expect(decodeURIComponent(encoded), value).to.equal(value);
    }
  });

  it('round-trips any well-formed string (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (value) => {
        const encoded = encodeHeaderValue(value);
        return PRINTABLE_ASCII.test(encoded) && !/["\s]/.test(encoded) && decodeHeaderValue(encoded) === value;
      }),
      { numRuns: 200 },
    );
  });

  it('decodes lower-case hex, needless escapes, legacy quoted strings and raw UTF-8 bytes; keeps a leading BOM', () => {
    expect(decodeHeaderValue('pawe%c5%82')).to.equal('paweł');
    expect(decodeHeaderValue('%2Fhr%2F%77orkday')).to.equal('/hr/workday');
    expect(decodeHeaderValue('"a \\"b\\" c"')).to.equal('a "b" c');
    expect(decodeHeaderValue('a b')).to.equal('a b');
    expect(decodeHeaderValue(Buffer.from('zoë 李雷', 'utf8').toString('latin1'))).to.equal('zoë 李雷');
    expect(decodeHeaderValue('%EF%BB%BFx')).to.equal('\uFEFFx');
  });

  it('refuses invalid UTF-8, malformed escapes, control characters and unterminated quotes, naming the header', () => {
    const refused = [
      'a%C0%A0b',
      '%E2%82',
      '%ED%A0%80',
      '%FF',
      '50%',
      '%zz',
      '%4',
      'a\tb',
      'a\u0000b',
      '"open',
      'li\u96f7',
    ];
    for (const value of refused) {
      expect(() => decodeHeaderValue(value, 'ce-subject'), JSON.stringify(value)).to.throw(
        HeaderEncodingError,
        /^Header ce-subject /,
      );
    }
    // the raw Latin-1 reading of bytes that are not UTF-8 is refused too, not guessed at
    expect(() => decodeHeaderValue('zo\u00eb')).to.throw(HeaderEncodingError);
  });

  it('refuses to encode a lone surrogate rather than send U+FFFD', () => {
    expect(() => encodeHeaderValue('a\uD800b', 'ce-subject')).to.throw(HeaderEncodingError, /ce-subject/);
  });

  it('binaryMessage encodes every ce- header and nothing else; eventFromMessage reads the event back exactly', () => {
    const event = new CloudEvent({
      type: 'fr.cofrap.test',
      source: '/test/caf%C3%A9',
      subject: '李雷 "50%"',
      datacontenttype: 'application/json',
      data: { username: '李雷' },
      cofrapnote: 'zoë',
    });
    const message = binaryMessage(event);
    for (const [name, value] of Object.entries(message.headers)) expect(value, name).to.match(PRINTABLE_ASCII);
    expect(message.headers['ce-subject']).to.equal('%E6%9D%8E%E9%9B%B7%20%2250%25%22');
    expect(message.headers['ce-source']).to.equal('/test/caf%25C3%25A9'); // a URI's own escapes are data too
    expect(message.headers['ce-cofrapnote']).to.equal('zo%C3%AB');
    expect(message.headers['content-type']).to.equal('application/json');
    const back = eventFromMessage(message.headers, message.body) as CloudEvent<Record<string, unknown>>;
    expect([back.id, back.type, back.source, back.subject, back['cofrapnote']]).to.deep.equal([
      event.id,
      event.type,
      event.source,
      event.subject,
      'zoë',
    ]);
    expect(back.data).to.deep.equal({ username: '李雷' });
  });

  // If an SDK release starts encoding or decoding by itself, these fail: then ours must go,
  // or every value would be encoded or decoded twice.
  it('the cloudevents SDK (v10) itself neither encodes nor decodes ce- header values', () => {
    const event = new CloudEvent({ type: 'fr.cofrap.test', source: '/test', subject: 'paweł 50%' });
    expect(HTTP.binary(event).headers['ce-subject']).to.equal('paweł 50%');
    const read = HTTP.toEvent({
      headers: {
        'ce-specversion': '1.0',
        'ce-id': '1',
        'ce-source': '/test',
        'ce-type': 'fr.cofrap.test',
        'ce-subject': 'pawe%C5%82',
      },
      body: '',
    }) as CloudEvent<unknown>;
    expect(read.subject).to.equal('pawe%C5%82');
  });
});
