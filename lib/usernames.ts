// Usernames (contract §3): one normalisation, one validity rule and one confusable
// skeleton. The handlers use them on every request, and migration 005 applies the very
// same functions to the rows already stored ("the same code, not a SQL imitation").
//
// Cold start: every function imports this module, so the two data packages behind it are
// loaded on first need, not at import. An ASCII name never loads the script names, and
// only account creation computes a skeleton (the confusables data costs ~25 ms once).
import { createRequire } from 'node:module';
import { invalidRequest } from './http/errors.js';

const require = createRequire(import.meta.url);

export const USERNAME_MAX_LENGTH = 64;

// What surrounds a name is a typing accident: every White_Space character, and the
// invisible ones that are not White_Space (zero-width space, non-joiner and joiner, word
// joiner, byte order mark). Inside a name they are refused like any non-letter.
const EDGE_SPACE = /^[\p{White_Space}\u200B-\u200D\u2060\uFEFF]+|[\p{White_Space}\u200B-\u200D\u2060\uFEFF]+$/gu;

/**
 * Trimmed, NFKC, lower case: `Alice `, `alice` and the full-width `ａｌｉｃｅ` are one name.
 * NFKC runs again after lower-casing, which can leave a string that is not NFKC; the
 * second trim is for compatibility characters that NFKC turns into a space and a mark
 * (U+00A8 → U+0020 U+0308), so that normalising twice changes nothing.
 */
export function normaliseUsername(raw: string): string {
  return raw.replace(EDGE_SPACE, '').normalize('NFKC').toLowerCase().normalize('NFKC').replace(EDGE_SPACE, '');
}

// Letters, combining marks (Devanagari, Thai, … need them), decimal digits and . _ - @.
// Enclosing marks (U+20DD ⃝) are left out: they draw symbols, not letters.
const ALLOWED = /^[\p{L}\p{Mn}\p{Mc}\p{Nd}._@-]+$/u;
const PLAIN = /^[a-z0-9._@-]+$/;
// A mark must sit on a letter: not first, not after a digit or punctuation.
const MARK_WITHOUT_LETTER = /(?:^|[^\p{L}\p{M}])\p{M}/u;
// UTS #39 §5.4: no more than 4 nonspacing marks in a row, never the same one twice in a
// row (checked on NFD, where the marks of a precomposed letter show).
const TOO_MANY_MARKS = /\p{Mn}{5}/u;
const REPEATED_MARK = /(\p{Mn})\1/u;
// Characters of every script: ASCII digits and . _ - @, and marks such as U+0301 whose
// script is that of the letter they sit on.
const ANY_SCRIPT = /[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]/u;

const CHARACTERS_RULE = `must be 1 to ${USERNAME_MAX_LENGTH} characters, letters, digits and . _ - @ only`;
const MARKS_RULE =
  'must put each accent or other combining mark on a letter, at most 4 in a row and never the same twice';
const SCRIPT_RULE =
  'must write its letters in one script (Latin, Cyrillic, Greek, …; Japanese and Korean may mix in Han)';

/**
 * Why a normalised name is not a valid username (the end of a sentence that starts with
 * the field's name), or undefined when it is valid.
 */
export function usernameProblem(name: string): string | undefined {
  const length = [...name].length;
  if (length < 1 || length > USERNAME_MAX_LENGTH || !ALLOWED.test(name)) return CHARACTERS_RULE;
  if (PLAIN.test(name)) return undefined; // ASCII: Latin and Common only, no marks
  const decomposed = name.normalize('NFD');
  if (MARK_WITHOUT_LETTER.test(name) || TOO_MANY_MARKS.test(decomposed) || REPEATED_MARK.test(decomposed))
    return MARKS_RULE;
  return inOneWritingSystem(name) ? undefined : SCRIPT_RULE;
}

export function isValidUsername(name: string): boolean {
  return usernameProblem(name) === undefined;
}

/** The normalised username, or a 400 whose message names the field. */
export function usernameOf(raw: string, subject = 'Field'): string {
  const username = normaliseUsername(raw);
  const problem = usernameProblem(username);
  if (problem !== undefined) throw invalidRequest(`${subject} "username" ${problem}.`);
  return username;
}

// UTS #39 "highly restrictive": the letters are of one script, or of one of the writing
// systems that mix Han with another script (Japanese, Chinese with Bopomofo, Korean).
// Script_Extensions is used, as UTS #39 does, so that a character shared by several
// scripts (the Japanese prolonged sound mark ー: Hiragana and Katakana) fits each.
const HAN_SYSTEMS: ReadonlyArray<readonly string[]> = [
  ['Han', 'Hiragana', 'Katakana'],
  ['Han', 'Bopomofo'],
  ['Han', 'Hangul'],
];

// Scripts tried first: the likely ones, so that a valid name is usually settled by one or
// two patterns (each pattern costs ~0.1 ms the first two times it runs, then little). Only
// an order: the full list comes from the package below, and decides.
const LIKELY_SCRIPTS = [
  'Latin',
  'Cyrillic',
  'Greek',
  'Arabic',
  'Hebrew',
  'Han',
  'Hiragana',
  'Katakana',
  'Hangul',
  'Devanagari',
  'Thai',
];
const scriptPatterns = new Map<string, RegExp | null>();
let allScripts: readonly string[] | undefined;

/** The Script_Extensions pattern of a script, or null when this runtime does not know it. */
function scriptPattern(script: string): RegExp | null {
  let pattern = scriptPatterns.get(script);
  if (pattern === undefined) {
    try {
      pattern = new RegExp(`\\p{Script_Extensions=${script}}`, 'u');
    } catch {
      pattern = null; // a script newer than this runtime's Unicode, or an alias-only value
    }
    scriptPatterns.set(script, pattern);
  }
  return pattern;
}

/**
 * Every script, the likely ones first. The names come from the package that lists the
 * property values ECMAScript RegExp supports, not from a list typed here. A letter of a
 * script that neither it nor this runtime knows finds no script: the name is refused.
 */
function* scriptsInOrder(): Generator<string> {
  yield* LIKELY_SCRIPTS;
  if (allScripts === undefined) {
    const aliases = require('unicode-property-value-aliases-ecmascript') as ReadonlyMap<
      string,
      ReadonlyMap<string, string>
    >;
    allScripts = [...new Set(aliases.get('Script')?.values() ?? [])].filter(
      (s) => !['Common', 'Inherited', 'Unknown', ...LIKELY_SCRIPTS].includes(s),
    );
  }
  yield* allScripts;
}

/** Some script (or Han writing system) takes every letter of the name. */
function inOneWritingSystem(name: string): boolean {
  const scripted = [...new Set(name)].filter((c) => !ANY_SCRIPT.test(c));
  const [first] = scripted;
  if (first === undefined) return true;
  const covers = (system: readonly string[]): boolean =>
    scripted.every((c) => system.some((script) => scriptPattern(script)?.test(c) === true));
  // The name's script, if it has one, is one of its first letter's.
  for (const script of scriptsInOrder()) {
    if (scriptPattern(script)?.test(first) !== true) continue;
    if (covers([script]) || HAN_SYSTEMS.some((system) => system.includes(script) && covers(system))) return true;
  }
  return false;
}

// The prototype mapping of Unicode's confusables.txt (UTS #39), from the unhomoglyph
// package: the official data as a table, one character to its prototype; the two NFD
// steps of the skeleton algorithm around it are ours.
let prototypes: ((text: string) => string) | undefined;
const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * The UTS #39 confusable skeleton of a normalised username: NFD, default-ignorable code
 * points removed, each character replaced by its prototype, NFD again. Two names with one
 * skeleton look alike (`jose.fıno` and `jose.fino`); the skeleton is for comparison only,
 * never shown or used as a name.
 */
export function skeletonOf(name: string): string {
  prototypes ??= require('unhomoglyph') as (text: string) => string;
  return prototypes(name.normalize('NFD').replace(DEFAULT_IGNORABLE, '')).normalize('NFD');
}
