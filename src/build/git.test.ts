import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRefName, fetchGit, redactUrl, refToFetch, repositoryUrl } from './git.ts';
import { buildQuery } from './docker-build.ts';
import { sourceDir } from './builder.ts';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('repository forms: URLs kept, github shorthand becomes https, paths become absolute, options refused', () => {
  assert.equal(repositoryUrl('https://example.com/a.git'), 'https://example.com/a.git');
  assert.equal(repositoryUrl('file:///srv/r'), 'file:///srv/r');
  assert.equal(repositoryUrl('git@github.com:o/r.git'), 'git@github.com:o/r.git');
  assert.equal(repositoryUrl('github.com/o/r'), 'https://github.com/o/r');
  assert.equal(repositoryUrl('/srv/repo'), '/srv/repo');
  assert.throws(() => repositoryUrl('--upload-pack=evil'), /not a URL or path/);
});

test('ref to fetch: sha, then tag, then branch, else HEAD; bad names refused', () => {
  assert.equal(refToFetch({ repository: 'r', sha: 'abc1234', branch: 'main' }), 'abc1234');
  assert.equal(refToFetch({ repository: 'r', tag: 'v1', branch: 'main' }), 'refs/tags/v1');
  assert.equal(refToFetch({ repository: 'r', branch: 'feature/x' }), 'refs/heads/feature/x');
  assert.equal(refToFetch({ repository: 'r' }), 'HEAD');
  assert.throws(() => refToFetch({ repository: 'r', sha: 'zzz' }), /hexadecimal/);
  assert.throws(() => checkRefName('branch', '-x'), /not a valid ref/);
  assert.throws(() => checkRefName('branch', 'a..b'), /not a valid ref/);
});

test('credentials in URLs are redacted', () => {
  assert.equal(redactUrl('https://user:tok@example.com/r.git'), 'https://***@example.com/r.git');
});

test('engine build query carries the CPU and memory caps, no swap, and skip_cache', () => {
  const q = buildQuery({ tag: 't', cpu: 0.5, memoryBytes: 512, noCache: true, target: 'prod', buildArgs: { A: '1' } });
  assert.equal(q.cpuquota, 50_000);
  assert.equal(q.cpuperiod, 100_000);
  assert.equal(q.memory, 512);
  assert.equal(q.memswap, 512);
  assert.equal(q.nocache, 1);
  assert.equal(q.target, 'prod');
  assert.equal(q.buildargs, '{"A":"1"}');
  assert.equal(buildQuery({ tag: 't', cpu: 1, memoryBytes: 1 }).nocache, undefined);
});

test('workdir must stay inside the checkout', () => {
  const root = mkdtempSync(join(tmpdir(), 'pier-wd-'));
  mkdirSync(join(root, 'api'));
  assert.equal(sourceDir(root, 'api'), join(root, 'api'));
  assert.equal(sourceDir(root, '/api'), join(root, 'api'));
  assert.throws(() => sourceDir(root, '../etc'), /leaves the repository/);
  assert.throws(() => sourceDir(root, 'missing'), /not a directory/);
});

/** A repository with two commits on main, a branch `other`, a tag `v1` on the first commit and a branch named `v1` too. */
function sampleRepo(): { dir: string; first: string; second: string; other: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pier-git-src-'));
  const git = (...argv: string[]) => execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=Tester', ...argv], { cwd: dir, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main', '.');
  writeFileSync(join(dir, 'f'), 'one\n');
  git('add', 'f'); git('commit', '-q', '-m', 'first');
  const first = git('rev-parse', 'HEAD');
  git('tag', 'v1');
  git('checkout', '-q', '-b', 'other');
  writeFileSync(join(dir, 'f'), 'other\n');
  git('commit', '-q', '-am', 'on other');
  const other = git('rev-parse', 'HEAD');
  git('branch', 'v1'); // a branch of the tag's name: a tag source must still get the tag
  git('tag', 'only-a-tag'); // and a branch source naming only a tag gets no branch
  git('checkout', '-q', 'main');
  writeFileSync(join(dir, 'f'), 'two\n');
  git('commit', '-q', '-am', 'second\n\nbody');
  return { dir, first, second: git('rev-parse', 'HEAD'), other };
}

test('fetchGit checks out the default branch, a branch, a tag (not a branch of its name) and a sha, and records it', async () => {
  const repo = sampleRepo();
  const lines: string[] = [];
  const o = { signal: new AbortController().signal, onLine: (l: string) => { lines.push(l); } };
  try {
    const cases: [Parameters<typeof fetchGit>[0], string, string][] = [
      [{ repository: repo.dir }, repo.second, 'two'],
      [{ repository: repo.dir, branch: 'other' }, repo.other, 'other'],
      [{ repository: repo.dir, tag: 'v1' }, repo.first, 'one'],
      [{ repository: repo.dir, sha: repo.first }, repo.first, 'one'],
      [{ repository: `file://${repo.dir}`, sha: repo.other.slice(0, 12) }, repo.other, 'other'],
    ];
    for (const [ref, sha, content] of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'pier-git-co-'));
      try {
        const got = await fetchGit(ref, dir, o);
        assert.equal(got.sha, sha, JSON.stringify(ref));
        assert.equal(got.author, 'Tester');
        assert.equal(readFileSync(join(dir, 'f'), 'utf8'), `${content}\n`, JSON.stringify(ref));
        assert.ok(!existsSync(join(dir, '.git', 'hooks')), 'no template copied');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    assert.ok(lines.some((l) => /^Checked out [0-9a-f]{12}: second$/.test(l)), lines.join('\n'));
  } finally {
    rmSync(repo.dir, { recursive: true, force: true });
  }
});

test('fetchGit: a missing branch, an unreachable server or an empty repository fails naming the ref, never the credentials', async () => {
  const repo = sampleRepo();
  const lines: string[] = [];
  const o = { signal: new AbortController().signal, onLine: (l: string) => { lines.push(l); } };
  try {
    for (const ref of [{ repository: repo.dir, branch: 'nope' }, { repository: repo.dir, branch: 'only-a-tag' }, { repository: 'https://user:s3cr3t@127.0.0.1:1/r.git', branch: 'main' }, { repository: 'https://user:s3cr3t@127.0.0.1:1/r.git', tag: 'v1' }]) {
      const dir = mkdtempSync(join(tmpdir(), 'pier-git-co-'));
      try {
        await assert.rejects(fetchGit(ref, dir, o), (err: Error) => {
          assert.match(err.message, /git fetch of refs\/(heads|tags)\/(nope|only-a-tag|main|v1) failed/);
          assert.doesNotMatch(err.message, /s3cr3t/);
          return true;
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    assert.doesNotMatch(lines.join('\n'), /s3cr3t/);
    const empty = mkdtempSync(join(tmpdir(), 'pier-git-empty-'));
    const dir = mkdtempSync(join(tmpdir(), 'pier-git-co-'));
    try {
      execFileSync('git', ['init', '-q', '-b', 'main', empty]);
      await assert.rejects(fetchGit({ repository: empty }, dir, o), /git fetch of HEAD failed: the repository has no commit there/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(repo.dir, { recursive: true, force: true });
  }
});

test('fetchGit refuses an option in place of a repository or a branch before any git runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-git-co-'));
  const marker = join(dir, 'pwned');
  const o = { signal: new AbortController().signal, onLine: () => undefined };
  try {
    await assert.rejects(fetchGit({ repository: `--upload-pack=touch ${marker}` }, dir, o), /not a URL or path/);
    await assert.rejects(fetchGit({ repository: dir, branch: `--upload-pack=touch ${marker}` }, dir, o), /not a valid ref name/);
    await assert.rejects(fetchGit({ repository: dir, tag: `--upload-pack=touch ${marker}` }, dir, o), /not a valid ref name/);
    assert.ok(!existsSync(marker));
    assert.ok(!existsSync(join(dir, '.git')), 'no git ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
