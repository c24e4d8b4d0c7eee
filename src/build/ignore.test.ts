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
  assert.equal(m.ignores('docs', false), false); // dir-only rule
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
