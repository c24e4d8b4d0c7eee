import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gitRefProblem, gitRepositoryAllowed, parseRepository } from './git-source.ts';
import { normalizeDefinition } from './definition.ts';

test('repository syntax: remote URLs, scp-like ssh, shorthand, local paths; the rest refused with the reason', () => {
  const ok: [string, 'remote' | 'local', string, string?][] = [
    ['https://github.com/o/r.git', 'remote', 'https://github.com/o/r.git', 'github.com'],
    ['https://x:tok@git.example.com:8443/o/r', 'remote', 'https://x:tok@git.example.com:8443/o/r', 'git.example.com'],
    ['ssh://git@[2001:db8::1]:22/o/r.git', 'remote', 'ssh://git@[2001:db8::1]:22/o/r.git', '[2001:db8::1]'],
    ['git://git.example.com/r', 'remote', 'git://git.example.com/r', 'git.example.com'],
    ['git@github.com:o/r.git', 'remote', 'git@github.com:o/r.git', 'github.com'],
    ['github.com/o/r', 'remote', 'https://github.com/o/r', 'github.com'],
    ['/srv/git/r.git', 'local', '/srv/git/r.git'],
    ['file:///srv/git/r.git', 'local', 'file:///srv/git/r.git'],
    ['r', 'local', 'r'],
  ];
  for (const [input, kind, url, host] of ok) assert.deepEqual(parseRepository(input), host ? { kind, url, host } : { kind, url }, input);
  const bad: [string, RegExp][] = [
    ['', /is required/],
    ['-uhttps://x', /must not start with "-"/],
    ['ext::sh -c touch% /tmp/pwned', /spaces or control/],
    ['ext::sh', /"<transport>::" form/],
    ['fd::3', /"<transport>::" form/],
    ['ftp://example.com/r.git', /scheme ftp:\/\/ is not supported/],
    ['https:///o/r', /needs a host name/],
    ['ssh://-oProxyCommand=x/r', /needs a host name/],
    ['https://github.com', /needs a repository path/],
    ['https://github.com:http/o/r', /port .* must be a number/],
    ['git@-oProxyCommand=x:r', /is not a host name/],
    ['git@github.com:', /needs a repository path/],
    ['file://relative/r', /absolute path/],
    ['https://github.com/o/r\n', /control characters/],
    ['https://github.com/o/r\0', /control characters/],
  ];
  for (const [input, re] of bad) {
    const got = parseRepository(input);
    assert.equal(typeof got, 'string', input);
    assert.match(got as string, re, input);
  }
});

test('gitRepositoryAllowed: remote hosts yes, this host no; local only for the operator or the tenant\'s own Pier remote', () => {
  const tenant = { allowLocal: false, ownRepositories: ['/data/git/svc1.git'] };
  assert.deepEqual(gitRepositoryAllowed('https://github.com/o/r', tenant), { allowed: true });
  assert.deepEqual(gitRepositoryAllowed('git@github.com:o/r.git', tenant), { allowed: true });
  assert.deepEqual(gitRepositoryAllowed('/data/git/svc1.git', tenant), { allowed: true });
  assert.deepEqual(gitRepositoryAllowed('file:///data/git/svc1.git/', tenant), { allowed: true });
  assert.deepEqual(gitRepositoryAllowed('/data/./git//svc1.git', tenant), { allowed: true });
  for (const other of ['/data/git/svc2.git', 'file:///etc', '/data/git/svc1.git/../svc2.git', 'svc1.git', 'file:///data/git/svc2.git']) {
    const got = gitRepositoryAllowed(other, tenant);
    assert.equal(got.allowed, false, other);
    assert.match((got as { reason: string }).reason, /on this host's disk: use a remote URL .* are for the operator/, other);
  }
  for (const self of ['http://localhost:7700/git/a/b.git', 'https://127.0.0.1/r', 'http://127.1/r', 'http://2130706433/r',
    'http://0x7f.0.0.1/r', 'http://0177.0.0.1/r', 'http://169.254.169.254/latest', 'ssh://git@[::1]/r', 'git@localhost:r.git',
    'http://[fe80::1]/r', 'http://0.0.0.0/r', 'http://[::ffff:127.0.0.1]/r', 'http://LOCALHOST/r']) {
    const got = gitRepositoryAllowed(self, tenant);
    assert.equal(got.allowed, false, self);
    assert.match((got as { reason: string }).reason, /names this host itself/, self);
  }
  for (const ok of ['https://10.0.0.5/r.git', 'https://192.168.1.2/r', 'https://cafe.be/r', 'https://1.2.3.4/r']) {
    assert.deepEqual(gitRepositoryAllowed(ok, tenant), { allowed: true }, ok);
  }
  assert.deepEqual(gitRepositoryAllowed('http://127.0.0.1:7700/git/a/b.git', { allowLocal: true }), { allowed: true });
  assert.deepEqual(gitRepositoryAllowed('/any/path', { allowLocal: true }), { allowed: true });
  assert.deepEqual(gitRepositoryAllowed('file:///any/path', { allowLocal: true }), { allowed: true });
  const syntax = gitRepositoryAllowed('ext::sh', { allowLocal: true });
  assert.equal(syntax.allowed, false);
  assert.match((syntax as { reason: string }).reason, /transport/);
});

test('ref names follow git check-ref-format --branch', () => {
  for (const ok of ['main', 'feature/x-1', 'v1.0.0', 'release/2024.01', 'a@b', 'user+fix', 'ü-branch']) {
    assert.equal(gitRefProblem(ok), null, ok);
  }
  const bad: [string, RegExp][] = [
    ['', /empty/], ['a b', /no spaces/], ['a\tb', /control/], ['a~1', /~/], ['a^', /\^/], ['a:b', /:/], ['a?', /\?/],
    ['a*', /\*/], ['a[b', /\[/], ['a\\b', /\\/], ['-x', /start with "-"/], ['@', /"@"/], ['a@{1}', /@\{/],
    ['a..b', /".."/], ['/a', /leading/], ['a/', /trailing/], ['a//b', /double/], ['a.', /end with "."/],
    ['.hidden', /start with "."/], ['a/.b', /start with "."/], ['x.lock', /\.lock/], ['x.lock/y', /\.lock/],
    ['a\x7fb', /control/], ['x'.repeat(256), /longer than 255/],
  ];
  for (const [name, re] of bad) {
    const why = gitRefProblem(name);
    assert.ok(why, JSON.stringify(name));
    assert.match(why!, /is not a valid git ref name/);
    assert.match(why!, re, JSON.stringify(name));
  }
});

test('definition validation refuses bad repository URLs and ref names at once, naming each field', () => {
  const { errors } = normalizeDefinition({
    ports: [{ port: 8000 }],
    git: { repository: 'ext::sh -c id', tag: 'v1..2' },
  });
  assert.deepEqual(errors.map((e) => e.field), ['definition.git.repository', 'definition.git.tag']);
  const branch = normalizeDefinition({ ports: [{ port: 8000 }], git: { repository: 'https://github.com/o/r', branch: 'feat/.x' } });
  assert.deepEqual(branch.errors.map((e) => e.field), ['definition.git.branch']);
  const scheme = normalizeDefinition({ ports: [{ port: 8000 }], git: { repository: 'ftp://h/r' } });
  assert.match(scheme.errors[0]!.description, /scheme ftp/);
});
