// The documentation as a newcomer meets it: a README short enough to read (issue 19), and
// links between README.md, SECURITY.md, bench/README.md and docs/*.md that lead somewhere.
// Markdown is read with marked (links in code blocks are not links) and headings are
// turned into anchors with github-slugger, as GitHub renders them.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import GithubSlugger from 'github-slugger';
import { Lexer, walkTokens } from 'marked';
import type { Token, Tokens } from 'marked';
import { PROJECT_ROOT } from './helpers/process.js';

// "At most 10 KB" read as 10 000 bytes, the stricter of its two readings.
const README_MAX_BYTES = 10_000;

function documentationFiles(): string[] {
  const docs = readdirSync(path.join(PROJECT_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', 'SECURITY.md', 'bench/README.md', ...docs];
}

function plainText(tokens: Token[] | undefined, raw: string): string {
  if (tokens === undefined) return raw;
  return tokens
    .map((token) =>
      'tokens' in token && Array.isArray(token.tokens)
        ? plainText(token.tokens, '')
        : 'text' in token
          ? String(token.text)
          : '',
    )
    .join('');
}

/** The anchors GitHub gives the headings of a Markdown text. */
function anchorsOf(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  // walkTokens answers the promises of async extensions; there are none here.
  void walkTokens(new Lexer().lex(markdown), (token) => {
    if (token.type === 'heading') {
      const heading = token as Tokens.Heading;
      anchors.add(slugger.slug(plainText(heading.tokens, heading.text)));
    }
  });
  return anchors;
}

function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  void walkTokens(new Lexer().lex(markdown), (token) => {
    if (token.type === 'link' || token.type === 'image') targets.push((token as Tokens.Link | Tokens.Image).href);
  });
  return targets;
}

/**
 * The relative links of one Markdown file (under `root`) that lead nowhere: a missing
 * file, or an anchor that no heading of the target has.
 */
function brokenLinks(file: string, markdown: string, root: string): string[] {
  const broken: string[] = [];
  for (const href of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto: — not a file of this project
    const [target = '', anchor] = href.split('#', 2);
    const resolved =
      target === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), decodeURI(target)));
    const absolute = path.join(root, resolved);
    if (!existsSync(absolute)) {
      broken.push(`${file}: ${href} (no file ${resolved})`);
      continue;
    }
    if (anchor === undefined || anchor === '' || !resolved.endsWith('.md') || statSync(absolute).isDirectory())
      continue;
    const targetText = resolved === file ? markdown : readFileSync(absolute, 'utf8');
    if (!anchorsOf(targetText).has(decodeURI(anchor)))
      broken.push(`${file}: ${href} (no heading #${anchor} in ${resolved})`);
  }
  return broken;
}

describe('documentation', () => {
  it(`README.md is at most ${README_MAX_BYTES} bytes`, () => {
    const size = statSync(path.join(PROJECT_ROOT, 'README.md')).size;
    expect(size, 'README.md: move detail to docs/ and link it').to.be.at.most(README_MAX_BYTES);
  });

  it('every relative link in README.md, SECURITY.md, bench/README.md and docs/*.md leads to an existing file and heading', () => {
    const files = documentationFiles();
    expect(files).to.include.members([
      'docs/architecture.md',
      'docs/operations.md',
      'docs/deploy-knative.md',
      'docs/testing.md',
    ]);
    const broken = files.flatMap((file) =>
      brokenLinks(file, readFileSync(path.join(PROJECT_ROOT, file), 'utf8'), PROJECT_ROOT),
    );
    expect(broken).to.deep.equal([]);
  });

  it('the link check finds a missing file, a missing heading, and ignores links inside code', () => {
    const markdown = [
      '# Title `with code`',
      '[fine](README.md) [anchor](#title-with-code) [other](SECURITY.md#reporting-a-problem) [web](https://example.com/x.md)',
      '[gone](docs/nowhere.md) [no heading](#no-such-heading)',
      '```',
      '[in code](docs/also-nowhere.md)',
      '```',
    ].join('\n');
    expect(brokenLinks('README.md', markdown, PROJECT_ROOT)).to.deep.equal([
      'README.md: docs/nowhere.md (no file docs/nowhere.md)',
      'README.md: #no-such-heading (no heading #no-such-heading in README.md)',
    ]);
  });

  it('docs/operations.md names every environment variable the service reads', () => {
    const source = (file: string): string => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
    // lib/config.ts passes each variable's name as a string literal; a few others read process.env directly.
    const names = new Set(
      [...source('lib/config.ts').matchAll(/'([A-Z][A-Z0-9_]{2,})'/g)].map((match) => match[1] as string),
    );
    for (const file of ['lib/log.ts', 'lib/operator/links.ts', 'bin/serve.ts']) {
      for (const match of source(file).matchAll(/\benv\.([A-Z][A-Z0-9_]{2,})/g)) names.add(match[1] as string);
    }
    expect(names.size).to.be.greaterThan(30);
    const operations = source('docs/operations.md');
    expect([...names].filter((name) => !operations.includes(`\`${name}\``))).to.deep.equal([]);
  });
});
