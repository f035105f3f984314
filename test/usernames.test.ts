// Usernames (contract §3, issue 13 finding 5) without a database: normalisation, the
// one-script rule, confusable skeletons.
import { expect } from 'chai';
import fc from 'fast-check';
import { isValidUsername, normaliseUsername, skeletonOf, usernameOf, usernameProblem } from '../lib/usernames.js';
import { HttpError } from '../lib/http/errors.js';

/** The 400 that usernameOf answers, or undefined when it accepts the name. */
function refusal(raw: string): HttpError | undefined {
  try {
    usernameOf(raw);
    return undefined;
  } catch (error) {
    expect(error).to.be.instanceOf(HttpError);
    return error as HttpError;
  }
}

describe('unit: username normalisation', () => {
  it('trims every Unicode space and the invisible characters at the edges', () => {
    expect(normaliseUsername('  bob\t')).to.equal('bob');
    expect(normaliseUsername('\u3000bob\u00a0\u2003\n')).to.equal('bob'); // ideographic, no-break, em space
    expect(normaliseUsername('\u200bbob\ufeff')).to.equal('bob'); // zero-width space, byte order mark
    expect(normaliseUsername('\u2060\u200dbob\u200c')).to.equal('bob');
  });

  it('applies NFKC and lower case: Alice, ALICE, alice and the full-width ａｌｉｃｅ are one name', () => {
    for (const spelling of ['Alice', 'ALICE', 'alice ', 'ａｌｉｃｅ', 'ＡＬＩＣＥ'])
      expect(normaliseUsername(spelling), spelling).to.equal('alice');
    expect(normaliseUsername('ｊose.fino')).to.equal('jose.fino'); // finding 5: full-width j
    expect(normaliseUsername('jose.ﬁno')).to.equal('jose.fino'); // finding 5: the ﬁ ligature
    expect(normaliseUsername('E\u0301LODIE')).to.equal('\u00e9lodie'); // composed
    expect(normaliseUsername('Jean.Dupont@COFRAP')).to.equal('jean.dupont@cofrap');
  });

  it('is idempotent and its result is NFKC, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 24 }), (raw) => {
        const once = normaliseUsername(raw);
        expect(normaliseUsername(once)).to.equal(once);
        expect(once.normalize('NFKC')).to.equal(once);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('unit: username validity', () => {
  it('accepts names of one script, and Japanese and Korean mixed with Han', () => {
    for (const name of [
      'jose.fino',
      'иван',
      '李雷',
      'zoë',
      'paweł',
      'élodie',
      'ελένη',
      'नमस्ते',
      'ไทย',
      'たなか.太郎',
      'タナカ',
      '김철수',
      'a',
      'jean_dupont-2@cofrap',
      '0042',
    ]) {
      expect(usernameProblem(name), name).to.equal(undefined);
      expect(usernameOf(name)).to.equal(name);
    }
    expect(usernameOf('ZOË')).to.equal('zoë');
    expect(usernameOf('a'.repeat(64))).to.have.length(64);
  });

  it('refuses a Latin name with a Cyrillic о (finding 5), 400 naming the field', () => {
    const error = refusal('jоse.fino'); // U+043E
    expect(error?.status).to.equal(400);
    expect(error?.code).to.equal('invalid_request');
    expect(error?.message).to.equal(
      'Field "username" must write its letters in one script (Latin, Cyrillic, Greek, …; Japanese and Korean may mix in Han).',
    );
    for (const mixed of ['ivan.иван', 'kim김', 'αβγ.abc', 'x٣', 'paypаl'])
      expect(isValidUsername(normaliseUsername(mixed)), mixed).to.equal(false);
  });

  it('refuses empty, too long, spaces inside, symbols and controls, naming the field', () => {
    for (const raw of [
      '',
      '   ',
      '\u200b',
      'a'.repeat(65),
      'a b',
      'a/b',
      "x'; DROP TABLE users;--",
      'a\u0000b',
      'a\u202eb',
      'a\u200bb',
      'bob☺',
      'a+b',
    ]) {
      const error = refusal(raw);
      expect(error, JSON.stringify(raw)).to.not.equal(undefined);
      expect(error?.status).to.equal(400);
      expect(error?.message).to.equal('Field "username" must be 1 to 64 characters, letters, digits and . _ - @ only.');
    }
  });

  it('accepts combining marks on letters only, at most 4 in a row, never the same twice', () => {
    expect(isValidUsername('ǰ')).to.equal(true); // j + U+030C: no precomposed form
    expect(isValidUsername('\u0301a')).to.equal(false);
    expect(isValidUsername('1\u0301')).to.equal(false);
    expect(isValidUsername('a.\u0301')).to.equal(false);
    expect(isValidUsername('e\u0301\u0301')).to.equal(false);
    expect(isValidUsername('a\u0300\u0301\u0302\u0303\u0304')).to.equal(false);
    expect(isValidUsername('a\u20dd')).to.equal(false); // an enclosing circle draws a symbol
    expect(refusal('\u00a8bob')?.message).to.equal(
      'Field "username" must put each accent or other combining mark on a letter, at most 4 in a row and never the same twice.',
    );
  });

  it('names the subject it is given (event data)', () => {
    expect(() => usernameOf('a b', 'Event data field')).to.throw(HttpError, 'Event data field "username" must be');
  });
});

describe('unit: confusable skeletons (UTS #39)', () => {
  it("gives finding 5's look-alikes the skeleton of jose.fino", () => {
    const original = skeletonOf('jose.fino');
    expect(skeletonOf('jose.fıno')).to.equal(original); // dotless ı: a valid Latin name, refused by its skeleton
    expect(skeletonOf(normaliseUsername('ｊose.fino'))).to.equal(original);
    expect(skeletonOf(normaliseUsername('jose.ﬁno'))).to.equal(original);
    expect(skeletonOf('jоse.fino')).to.equal(original); // refused already as mixed script
    expect(skeletonOf('jose.flno')).to.equal(skeletonOf('jose.f1no'));
    expect(skeletonOf('jose.fina')).to.not.equal(original);
  });

  it('compares within other scripts too, and is stable', () => {
    expect(skeletonOf('rn')).to.equal(skeletonOf('m'));
    expect(skeletonOf('иван')).to.not.equal(skeletonOf('ивон'));
    for (const name of ['jose.fino', 'zoë', 'иван', '李雷', 'たなか.太郎'])
      expect(skeletonOf(name)).to.equal(skeletonOf(name.normalize('NFD').normalize('NFC')));
  });
});
