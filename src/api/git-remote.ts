// The built-in git remote: `git push http://x:<token>@<api>/git/<app>/<service>.git main` goes through
// `git http-backend` (CGI, spawned with argv and env, bodies streamed) into a bare repository
// <data-dir>/git/<service_id>.git. A push that moves the branch the service tracks deploys that commit, when the
// service's git source is that bare repository and no_deploy_on_push is not set.
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PierError } from '../domain/errors.ts';
import { findAppByName } from '../store/apps.ts';
import { getDeployment } from '../store/deployments.ts';
import { findByToken } from '../store/organizations.ts';
import { findServiceByName, getService } from '../store/services.ts';
import type { Store } from '../store/store.ts';
import { deployPushedCommit } from '../actions/push.ts';

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

interface Options { domain: string; onWrite: () => void }

/** Serves one git smart-HTTP request; resolves when the reply is complete. */
export async function handleGitRemote(store: Store, req: http.IncomingMessage, res: http.ServerResponse, opts: Options): Promise<void> {
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
  const app = await findAppByName(store.db, row.organization_id, m[1]!);
  const service = app ? await findServiceByName(store.db, app.id, m[2]!) : undefined;
  if (!service) throw new PierError('unknown_resource', `No service ${m[1]}/${m[2]}`);
  const root = join(store.dataDir, 'git');
  const repo = await ensureBareRepo(root, service.id);
  const sub = m[3] ?? '/';
  const isPush = sub === '/git-receive-pack' && req.method === 'POST';
  if ((isPush || url.searchParams.get('service') === 'git-receive-pack') && Number(row.read_only ?? 0) === 1) {
    throw new PierError('authorization_required', 'This API token is read-only: it cannot push');
  }

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${service.id}.git${sub}`, REQUEST_METHOD: req.method ?? 'GET', QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: String(req.headers['content-type'] ?? ''), REMOTE_USER: 'pier', REMOTE_ADDR: req.socket.remoteAddress ?? '',
  };
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
  const code = await runCgi(['git', 'http-backend'], env, req, res);
  if (isPush && code === 0) await deployIfTracked(store, service.id, repo, opts);
}

/** Runs a CGI program: the request body to stdin, the `Status:`/header block of stdout to the reply, then the rest. */
function runCgi(argv: string[], env: Record<string, string>, req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let head = Buffer.alloc(0);
    let started = false;
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { if (stderr.length < 4000) stderr += c.toString(); });
    child.stdout.on('data', (chunk: Buffer) => {
      if (started) { res.write(chunk); return; }
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
      res.write(head.subarray(end + sep));
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (!started && !res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.write(`git http-backend failed: ${stderr.trim().slice(0, 500)}\n`);
      }
      res.end();
      resolve(code ?? 1);
    });
    req.pipe(child.stdin);
    child.stdin.on('error', () => { /* the backend may exit before reading everything; its status says why */ });
  });
}

/** After a push: deploy the tracked branch's new head when the service builds from this bare repository. */
async function deployIfTracked(store: Store, serviceId: string, repo: string, opts: Options): Promise<void> {
  const service = await getService(store.db, serviceId);
  const latest = service?.latest_deployment_id ? await getDeployment(store.db, service.latest_deployment_id) : undefined;
  const git = latest?.definition.git;
  if (!service || !latest || !git?.branch || git.no_deploy_on_push) return;
  if (git.repository.replace(/^file:\/\//, '').replace(/\/+$/, '') !== repo) return;
  let sha: string;
  try {
    sha = (await run('git', ['-C', repo, 'rev-parse', '--verify', '-q', `refs/heads/${git.branch}^{commit}`])).stdout.trim();
  } catch {
    return; // the push did not create the tracked branch
  }
  if (git.sha === sha || latest.provisioning_info?.sha === sha) return;
  await deployPushedCommit({ store, domain: opts.domain, onWrite: opts.onWrite, organizationId: service.organization_id }, service.id, sha,
    { provider: 'PIER', sender_username: '' });
}
