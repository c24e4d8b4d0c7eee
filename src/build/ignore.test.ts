import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileIgnore } from './ignore.ts';

test('dockerignore: anchored rules, directories exclude their contents, ! re-includes, ** spans', () => {
  const m = compileIgnore('# comment\nnode_modules\n*.log\n!keep.log\nsecret/**\n**/*.tmp\ndocs/\n', 'docker');
  assert.equal(m.ignores('node_modules', true), true);
  assert.equal(m.ignores('node_modules/a/b.js', false), true);
  assert.equal(m.ignores('src/node_modules', true), false); // anchored at the root
  assert.equal(m.ignores('x.log', false), true);
  assert.equal(m.ignores('keep.log', false), false);
  assert.equal(m.ignores('sub/x.log', false), false);
  assert.equal(m.ignores('secret/a/b', false), true);
  assert.equal(m.ignores('a/b/c.tmp', false), true);
  assert.equal(m.ignores('docs', true), true);
  // Docker cleans the trailing slash away, so `docs/` also excludes a file named docs (checked with `docker build`:
  // "COPY failed: ... excluded by .dockerignore"); the hand-written matcher used to keep it, unlike Docker.
  assert.equal(m.ignores('docs', false), true);
  assert.equal(m.ignores('src/index.js', false), false);
});

test('gitignore: rules without a slash match at any depth; with a slash they are anchored', () => {
  const m = compileIgnore('dist\n/build\n*.pyc\n', 'git');
  assert.equal(m.ignores('dist', true), true);
  assert.equal(m.ignores('pkg/dist/a.js', false), true);
  assert.equal(m.ignores('build/x', false), true);
  assert.equal(m.ignores('src/build/x', false), false);
  assert.equal(m.ignores('a/b/c.pyc', false), true);
});

test('a re-included file inside an excluded directory is kept', () => {
  const m = compileIgnore('vendor\n!vendor/keep.txt\n', 'docker');
  assert.equal(m.ignores('vendor/keep.txt', false), false);
  assert.equal(m.ignores('vendor/other.txt', false), true);
});

test('dockerignore, Docker\'s own rules: * stays in one directory, ./ and / prefixes, re-include below an excluded directory', () => {
  const m = compileIgnore('*\n!src\nsrc/*.secret\n./build\n/tmp\n!tmp/keep/**\n', 'docker');
  assert.equal(m.ignores('README.md', false), true); // * at the root
  assert.equal(m.ignores('src', true), false);
  assert.equal(m.ignores('src/app.js', false), false); // * does not reach into src (unlike git)
  assert.equal(m.ignores('src/db.secret', false), true);
  assert.equal(m.ignores('src/sub/db.secret', false), false); // * is one level
  assert.equal(m.ignores('build', true), true); // ./build is the root's build
  assert.equal(m.ignores('tmp/x', false), true);
  assert.equal(m.ignores('tmp/keep/a/b.txt', false), false); // Docker re-includes below an excluded directory
  assert.equal(m.reincludes, true);
  assert.equal(compileIgnore('node_modules\n', 'docker').reincludes, false);
});

test('dockerignore: ** matches any number of directories, also none; matching is case sensitive', () => {
  const m = compileIgnore('**/.env\nlogs/**/*.log\n', 'docker');
  assert.equal(m.ignores('.env', false), true);
  assert.equal(m.ignores('a/b/.env', false), true);
  assert.equal(m.ignores('logs/x.log', false), true);
  assert.equal(m.ignores('logs/a/b/x.log', false), true);
  assert.equal(m.ignores('logs/a/b/x.txt', false), false);
  assert.equal(m.ignores('.ENV', false), false);
});

test('gitignore, git\'s own rules: dir-only trailing slash, no re-include below an excluded directory, escapes', () => {
  const m = compileIgnore('bin/\nvendor\n!vendor/keep.txt\n.env*\n!.env.example\n\\#notes\ntrailing   \n**/cache/**\nCase.txt\n', 'git');
  assert.equal(m.ignores('bin', true), true);
  assert.equal(m.ignores('bin', false), false); // a file named bin stays
  assert.equal(m.ignores('sub/bin/tool', false), true); // no slash before: any depth
  assert.equal(m.ignores('vendor/keep.txt', false), true); // git cannot re-include below an excluded directory
  assert.equal(m.ignores('.env', false), true);
  assert.equal(m.ignores('.env.production', false), true);
  assert.equal(m.ignores('.env.example', false), false);
  assert.equal(m.ignores('#notes', false), true);
  assert.equal(m.ignores('trailing', false), true); // unescaped trailing spaces are dropped
  assert.equal(m.ignores('a/cache/b/c', false), true);
  assert.equal(m.ignores('case.txt', false), false); // case sensitive, as git on Linux
  assert.equal(m.reincludes, false);
});
