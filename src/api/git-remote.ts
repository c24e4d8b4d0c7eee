// The built-in git remote: `git push http://x:<token>@<api>/git/<app>/<service>.git main` goes through
// `git http-backend` (CGI, spawned with argv and env, bodies streamed) into a bare repository
// <data-dir>/git/<service_id>.git, then deploys (README "Deploy with git push"):
//   - a service that already builds from this remote deploys when the push moves the branch it tracks (unless
//     no_deploy_on_push);
//   - any other service switches its source to this remote and deploys the pushed branch (the only one pushed, else
//     main, else master);
//   - a new service name creates the service (web, port 8000, route /) from the push.
// While it deploys, git shows the build's lines, the status changes and the URL as "remote:" lines (side-band,
// git-sideband.ts), until HEALTHY, a failure, or the wait's timeout.
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PierError } from '../domain/errors.ts';
import { validateServiceName } from '../domain/names.ts';
import type { Service } from '../domain/types.ts';
import { findAppByName } from '../store/apps.ts';
import { getDeployment } from '../store/deployments.ts';
import { findByToken } from '../store/organizations.ts';
import { newId } from '../store/rows.ts';
import { findServiceByName, getService } from '../store/services.ts';
import type { Store } from '../store/store.ts';
import { createServiceFromPush, deployPushedCommit, deployRemotePush, type RemotePush } from '../actions/push.ts';
import type { ActionContext } from '../actions/common.ts';
import { watchDeployment } from './git-push-watch.ts';
import { SidebandRelay } from './git-sideband.ts';

const run = promisify(execFile);

/** Paths the remote serves: /git/<app>/<service>.git/<git's sub-path>. */
const GIT_PATH = /^\/git\/([a-z0-9-]+)\/([a-z0-9-]+)\.git(\/.*)?$/;

/** True when a request path belongs to the git remote. */
export function isGitRemotePath(path: string): boolean {
  return path.startsWith('/git/');
}

/** The API token of a request: HTTP Basic (any user, the token as password, as git sends it) or Bearer. */
function tokenOf(req: http.IncomingMessage): string | undefined {
  const auth = req.headers.authorization ?? '';
  const basic = /^Basic\s+(\S+)$/i.exec(auth);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i >= 0 ? decoded.slice(i + 1) : undefined;
  }
  return /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
}

/** The bare repository of a service, created (receive-pack enabled) on first use. */
export async function ensureBareRepo(root: string, serviceId: string): Promise<string> {
  const dir = join(root, `${serviceId}.git`);
  if (!existsSync(join(dir, 'HEAD'))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await run('git', ['init', '--bare', '-q', '-b', 'main', dir]);
    await run('git', ['-C', dir, 'config', 'http.receivepack', 'true']);
  }
  return dir;
}

/** The git remote's options: the API's domain and write hook, the edge's URL (for the URL a push prints), the wait. */
export interface GitRemoteOptions {
  domain: string;
  onWrite: () => void;
  edgeUrl?: () => string | undefined;
  /** How long a push waits for its deployment before it ends (the deployment goes on); default 10 minutes. */
  waitMs?: number;
  /** Where errors after the reply started go (they can no longer become an HTTP error). */
  logError?: (msg: string, err: unknown) => void;
}

/** Default of GitRemoteOptions.waitMs. */
export const DEFAULT_PUSH_WAIT_MS = 10 * 60_000;

/** The name of the empty repository that advertises "no refs" for a push to a service that does not exist yet. */
const EMPTY_REPO = 'new-service';

/** Serves one git smart-HTTP request; resolves when the reply is complete. */
export async function handleGitRemote(store: Store, req: http.IncomingMessage, res: http.ServerResponse, opts: GitRemoteOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://pier.invalid');
  const m = GIT_PATH.exec(url.pathname);
  if (!m) throw new PierError('unknown_resource', 'Git remotes live at /git/<app>/<service>.git');
  const token = tokenOf(req);
  const row = token ? await findByToken(store.db, token) : undefined;
  if (!row) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="pier"', 'content-type': 'text/plain' });
    res.end('Authentication required: use the API token as the password\n');
    return;
  }
  const [appName, serviceName] = [m[1]!, m[2]!];
  const app = await findAppByName(store.db, row.organization_id, appName);
  if (!app) throw new PierError('unknown_resource', `No app ${appName}: create it first (pier app create ${appName})`);
  const service = await findServiceByName(store.db, app.id, serviceName);
  const sub = m[3] ?? '/';
  const isPush = sub === '/git-receive-pack' && req.method === 'POST';
  const wantsPush = isPush || url.searchParams.get('service') === 'git-receive-pack';
  if (wantsPush && Number(row.read_only ?? 0) === 1) {
    throw new PierError('authorization_required', 'This API token is read-only: it cannot push');
  }
  if (!service && !wantsPush) throw new PierError('unknown_resource', `No service ${appName}/${serviceName}`);
  if (!service) {
    const problem = validateServiceName(serviceName);
    if (problem) throw new PierError('invalid_argument', `Cannot create service ${serviceName}: ${problem}`);
  }
  const root = join(store.dataDir, 'git');
  // A new service's repository is named after the id it will get; before the push, an empty one answers "no refs".
  const repoId = service?.id ?? (isPush ? newId() : EMPTY_REPO);
  const repo = await ensureBareRepo(root, repoId);
  const before = isPush ? await branchHeads(repo) : new Map<string, string>();

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${repoId}.git${sub}`, REQUEST_METHOD: req.method ?? 'GET', QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: String(req.headers['content-type'] ?? ''), REMOTE_USER: 'pier', REMOTE_ADDR: req.socket.remoteAddress ?? '',
  };
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
  if (!isPush) {
    await runCgi(['git', 'http-backend'], env, req, res, (c) => res.write(c));
    res.end();
    return;
  }
  const relay = new SidebandRelay((c) => res.write(c));
  const code = await runCgi(['git', 'http-backend'], env, req, res, (c) => relay.push(c));
  try {
    if (code === 0 && res.headersSent) {
      const moved = await movedBranches(repo, before);
      const ctx: ActionContext = { store, organizationId: row.organization_id, domain: opts.domain, onWrite: opts.onWrite,
        actor: { id: row.id, name: row.name, type: 'user' } };
      await afterPush(ctx, { app: appName, service, serviceName, appId: app.id, repoId, repo, moved }, relay, res, opts);
    }
  } catch (err) {
    // The reply has started: the failure becomes the push's last "remote:" line (and the server's log).
    if (!relay.progress(`pier: failed: ${err instanceof Error ? err.message : String(err)}`)) opts.logError?.('git push deploy failed', err);
  } finally {
    relay.finish();
    res.end();
  }
  // A push meant to create a service that did not (refused, nothing pushed, no branch to deploy) leaves no repository.
  try {
    if (!service && !(await getService(store.db, repoId))) rmSync(repo, { recursive: true, force: true });
  } catch (err) {
    opts.logError?.('git push: removing an unused repository failed', err);
  }
}

/** What a push did: where, and the branches it created or moved (name to new head). */
interface Pushed {
  app: string; serviceName: string; appId: string; service: Service | undefined;
  repoId: string; repo: string; moved: Map<string, string>;
}

/** Deploys what the push calls for and, when git shows progress, follows the deployment until it ends. */
async function afterPush(ctx: ActionContext, p: Pushed, relay: SidebandRelay, res: http.ServerResponse, opts: GitRemoteOptions): Promise<void> {
  const say = (line: string): void => { relay.progress(`pier: ${line}`); };
  const ref = `${p.app}/${p.serviceName}`;
  const deploymentId = await deployPush(ctx, p, say);
  if (!deploymentId) return;
  if (!relay.sideband) return;
  let closed = false;
  res.on('close', () => { closed = true; });
  await watchDeployment(ctx.store, {
    deploymentId, timeoutMs: opts.waitMs ?? DEFAULT_PUSH_WAIT_MS, edgeUrl: opts.edgeUrl?.(), serviceRef: ref,
    say: (line) => { relay.progress(line); }, closed: () => closed,
  });
}

/** Picks the branch and deploys (or creates the service); undefined when the push calls for no deployment. */
async function deployPush(ctx: ActionContext, p: Pushed, say: (line: string) => void): Promise<string | undefined> {
  if (p.moved.size === 0) { say('no branch moved: nothing to deploy'); return undefined; }
  const who = { provider: 'PIER', sender_username: '' };
  const latest = p.service?.latest_deployment_id ? await getDeployment(ctx.store.db, p.service.latest_deployment_id) : undefined;
  const git = latest?.definition.git;
  const tracksThisRemote = git && git.repository.replace(/^file:\/\//, '').replace(/\/+$/, '') === p.repo;
  if (p.service && tracksThisRemote) {
    const branch = git.branch ?? 'main';
    const sha = p.moved.get(branch);
    if (!sha) { say(`stored ${[...p.moved.keys()].join(', ')}; ${p.serviceName} deploys branch ${branch}: nothing to deploy`); return undefined; }
    if (git.no_deploy_on_push) { say(`stored; ${p.serviceName} does not deploy on push (no_deploy_on_push)`); return undefined; }
    if (git.sha === sha || latest?.provisioning_info?.sha === sha) { say(`${sha.slice(0, 7)} is already deployed`); return undefined; }
    say(`deploying ${p.app}/${p.serviceName} from ${branch} at ${sha.slice(0, 7)}`);
    return deployPushedCommit(ctx, p.service.id, sha, who);
  }
  const branch = p.moved.size === 1 ? [...p.moved.keys()][0]! : p.moved.has('main') ? 'main' : p.moved.has('master') ? 'master' : undefined;
  if (!branch) { say(`stored ${[...p.moved.keys()].join(', ')}; push one branch (or main) to deploy`); return undefined; }
  const push: RemotePush = { repository: p.repo, branch, sha: p.moved.get(branch)!, dockerfile: await hasDockerfile(p.repo, p.moved.get(branch)!) };
  if (p.service) {
    say(`deploying ${p.app}/${p.serviceName} from ${branch} at ${push.sha.slice(0, 7)} (its source is now this remote)`);
    return deployRemotePush(ctx, p.service.id, push, who);
  }
  say(`creating ${p.app}/${p.serviceName} from ${branch} at ${push.sha.slice(0, 7)} (${push.dockerfile ? 'Dockerfile' : 'buildpacks'}, port 8000)`);
  return createServiceFromPush(ctx, p.appId, p.serviceName, p.repoId, push);
}

/** The heads of a repository's branches (name to sha). */
async function branchHeads(repo: string): Promise<Map<string, string>> {
  const { stdout } = await run('git', ['-C', repo, 'for-each-ref', '--format=%(objectname) %(refname:strip=2)', 'refs/heads']);
  const heads = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [sha, name] = line.split(' ');
    if (sha && name) heads.set(name, sha);
  }
  return heads;
}

/** Branches the push created or moved (deleted ones are not deployable). */
async function movedBranches(repo: string, before: Map<string, string>): Promise<Map<string, string>> {
  const after = await branchHeads(repo);
  return new Map([...after].filter(([name, sha]) => before.get(name) !== sha));
}

/** Whether the pushed tree has a Dockerfile at its root (then a new service builds with it). */
async function hasDockerfile(repo: string, sha: string): Promise<boolean> {
  try {
    await run('git', ['-C', repo, 'cat-file', '-e', `${sha}:Dockerfile`]);
    return true;
  } catch {
    return false; // cat-file -e exits 1 when the path is absent: the answer, not a failure
  }
}

/** Runs a CGI program: the request body to stdin, the `Status:`/header block of stdout to the reply, the rest to `body`. */
function runCgi(argv: string[], env: Record<string, string>, req: http.IncomingMessage, res: http.ServerResponse, body: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let head = Buffer.alloc(0);
    let started = false;
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { if (stderr.length < 4000) stderr += c.toString(); });
    child.stdout.on('data', (chunk: Buffer) => {
      if (started) { body(chunk); return; }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') : head.indexOf('\n\n');
      if (end < 0) return;
      const sep = head[end] === 13 ? 4 : 2;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10) || 200;
        else headers[k] = v;
      }
      started = true;
      res.writeHead(status, headers);
      const rest = head.subarray(end + sep);
      if (rest.length) body(rest);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (!started && !res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.write(`git http-backend failed: ${stderr.trim().slice(0, 500)}\n`);
      }
      resolve(code ?? 1);
    });
    req.pipe(child.stdin);
    child.stdin.on('error', () => { /* the backend may exit before reading everything; its status says why */ });
  });
}
