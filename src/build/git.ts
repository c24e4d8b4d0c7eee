// Fetches one commit of a git source with the `git` binary (argv arrays only): https, ssh, file:// or a local path,
// at a branch, tag or sha, shallow where the server allows it. Records what was built: sha, author and message.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { gitRefProblem } from '../domain/git-source.ts';
import { runStep, type StepOptions } from './exec.ts';

/** What to fetch. */
export interface GitRef { repository: string; branch?: string; tag?: string; sha?: string }

/** The commit a build used. */
export interface GitCommit { sha: string; author: string; message: string }

/** A URL or path git can fetch from: github.com/owner/repo shorthand becomes https; local paths become absolute. */
export function repositoryUrl(repository: string): string {
  const r = repository.trim();
  if (!r || r.startsWith('-')) throw new Error(`git repository "${repository}" is not a URL or path`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(r) || /^[\w.-]+@[\w.-]+:/.test(r)) return r;
  if (/^(github\.com|gitlab\.com|bitbucket\.org)\//i.test(r)) return `https://${r}`;
  return isAbsolute(r) ? r : resolve(r);
}

/**
 * Rejects ref names git would not accept, by the same rule the API validates with (src/domain/git-source.ts), so a
 * name the API accepted never fails here (defence in depth: argv already prevents injection).
 */
export function checkRefName(kind: string, name: string): void {
  const problem = gitRefProblem(name);
  if (problem) throw new Error(`git ${kind} is not a valid ref name: ${problem}`);
}

/** The refspec to fetch for a source: sha first, then tag, then branch, else the remote's HEAD. */
export function refToFetch(ref: GitRef): string {
  if (ref.sha) {
    if (!/^[0-9a-f]{7,40}$/i.test(ref.sha)) throw new Error(`git sha "${ref.sha}" is not a hexadecimal commit id`);
    return ref.sha;
  }
  if (ref.tag) { checkRefName('tag', ref.tag); return `refs/tags/${ref.tag}`; }
  if (ref.branch) { checkRefName('branch', ref.branch); return `refs/heads/${ref.branch}`; }
  return 'HEAD';
}

/** The environment git runs with: never prompts for credentials, ignores the system config. */
export function gitEnv(): Record<string, string> {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' };
  for (const k of ['PATH', 'HOME', 'SSH_AUTH_SOCK', 'GIT_SSH_COMMAND']) if (process.env[k]) env[k] = process.env[k]!;
  env.GIT_SSH_COMMAND ??= 'ssh -o BatchMode=yes';
  return env;
}

/**
 * Checks out one commit of `ref` into the empty directory `dir`. A branch or the default branch is one shallow
 * `git clone` (no template, never a local clone's hard links: the same transport as a remote); a tag or a sha is
 * fetched into an empty repository, then checked out while its commit is read. Fewer git processes is most of a
 * small app's build time (issue #23: five processes took 45-85 ms of a ~140 ms create, a clone 22-30 ms).
 */
export async function fetchGit(ref: GitRef, dir: string, o: Omit<StepOptions, 'cwd' | 'env'>): Promise<GitCommit> {
  const url = repositoryUrl(ref.repository);
  const want = refToFetch(ref);
  // Steps are named without the URL, which may carry credentials.
  const step = (argv: string[], label = `git ${argv.filter((a) => a !== url).join(' ')}`) => runStep(['git', ...argv], { ...o, cwd: dir, env: gitEnv(), label });
  o.onLine(`Fetching ${want === 'HEAD' ? 'the default branch' : want} from ${redactUrl(url)}`, 'stdout');
  const failed = (why: string) => new Error(`git fetch of ${want} failed: ${why}`);
  if (ref.sha || ref.tag) {
    await step(['init', '-q', '--template=', '.']);
    let read: Promise<string>;
    try {
      await step(['fetch', '-q', '--depth', '1', '--no-tags', '--', url, want]);
      read = readCommit(dir, 'FETCH_HEAD');
      read.catch(() => undefined);
      await step(['checkout', '-q', '--detach', 'FETCH_HEAD']);
    } catch (err) {
      if (!ref.sha || o.signal.aborted) throw failed((err as Error).message);
      // Servers that refuse a sha in want: fetch everything, then check the sha out.
      await step(['fetch', '-q', '--no-tags', '--', url, '+refs/heads/*:refs/remotes/origin/*']);
      await step(['checkout', '-q', '--detach', ref.sha]);
      read = readCommit(dir, 'HEAD');
    }
    return committed(await read, o);
  }
  try {
    await step(['clone', '-q', '--no-local', '--template=', '--depth', '1', '--no-tags', ...(ref.branch ? ['--branch', ref.branch] : []), '--', url, '.']);
  } catch (err) {
    throw failed((err as Error).message);
  }
  // `clone --branch` also takes a tag of that name (detached): a branch source gets a branch or nothing.
  if (ref.branch && readFileSync(join(dir, '.git', 'HEAD'), 'utf8').trim() !== `ref: refs/heads/${ref.branch}`) {
    throw failed(`the repository has no branch ${ref.branch} (only a tag of that name)`);
  }
  // A clone of an empty repository succeeds (with a warning) and has no commit to read.
  return committed(await readCommit(dir, 'HEAD').catch(() => { throw failed('the repository has no commit there'); }), o);
}

/** The sha, author and message of `rev`, NUL-separated (committed() splits them). */
function readCommit(dir: string, rev: string): Promise<string> {
  return gitOutput(dir, ['log', '-1', '--format=%H%x00%an%x00%B', rev]);
}

function committed(out: string, o: Pick<StepOptions, 'onLine'>): GitCommit {
  const [sha, author, message] = out.split('\0');
  o.onLine(`Checked out ${sha.slice(0, 12)}: ${message.trim().split('\n')[0]}`, 'stdout');
  return { sha, author, message: message.trim() };
}

/** Hides the password part of a URL before it reaches a log. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]+@/i, '$1***@');
}

function gitOutput(dir: string, argv: string[]): Promise<string> {
  return new Promise((res, rej) => {
    execFile('git', argv, { cwd: dir, env: gitEnv(), maxBuffer: 1 << 20 }, (err, stdout) => err ? rej(err) : res(stdout));
  });
}
