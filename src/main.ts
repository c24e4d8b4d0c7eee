// Composition root: opens the store, bootstraps the first organization and admin token, starts the API server,
// and starts whatever components the caller wires in (runtime, reconcilers, edge). Nothing else lives here.
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { PierComponent, PierCore } from './component.ts';
import type { PierConfig } from './config.ts';
import { openStore, type Store } from './store/store.ts';
import { findByToken, findOrganizationByName, generateToken, insertOrganization, insertToken } from './store/organizations.ts';
import { createApiServer, type ApiServer } from './api/server.ts';
import type { ExecBackend } from './domain/exec.ts';
import { platformComponents } from './platform.ts';
import { PgDb } from './store/pg.ts';
import { EdgeRouteFeed } from './edge/route-feed.ts';
import { createServerLog } from './control/server-log.ts';

export type { PierComponent, PierCore } from './component.ts';

/** Options of startPier. */
export interface StartOptions {
  /**
   * Builds the runtime, reconcilers, edge... once the store exists (default: the whole platform, see
   * platform.ts; pass `() => []` for the API alone). Started in order after the API listens, stopped in reverse
   * order on close().
   */
  components?: (core: PierCore) => PierComponent[] | Promise<PierComponent[]>;
  /** Where start-up lines go (default stderr). */
  log?: (line: string) => void;
}

/** A running Pier. */
export interface PierHandle {
  config: PierConfig;
  store: Store;
  api: ApiServer;
  apiUrl: string;
  organizationId: string;
  /** Path of the credentials file the CLI reads. */
  credentialsPath: string;
  /** The route table remote edges long-poll (shared by the API and the route publisher). */
  routeFeed: EdgeRouteFeed;
  components: PierComponent[];
  close(): Promise<void>;
}

/** The credentials file written for the CLI: `{url, token, organization_id}`. */
interface Credentials { url: string; token: string; organization_id: string }

function readCredentials(path: string): Credentials | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Credentials;
  } catch {
    // Missing or unreadable: a new admin token is issued below.
    return undefined;
  }
}

function writeCredentials(path: string, c: Credentials): void {
  writeFileSync(path, JSON.stringify(c, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Starts Pier with this configuration. */
export async function startPier(config: PierConfig, opts: StartOptions = {}): Promise<PierHandle> {
  // Default: pino (control/server-log.ts), `pier: ...` lines on stderr or JSON with PIER_LOG_FORMAT=json, redacted.
  const log = opts.log ?? createServerLog({ format: config.logFormat ?? 'text', secrets: config.token ? [config.token] : [] });
  const store = await openStore({ dataDir: config.dataDir, masterKeyFile: config.masterKeyFile, databaseUrl: config.databaseUrl, log });
  const listeners = new Set<() => void>();
  const info: Record<string, unknown> = {};
  const metricRenderers: (() => string)[] = [];
  const routeFeed = new EdgeRouteFeed();
  let api: ApiServer | undefined;
  let execBackend: ExecBackend | undefined;
  const started: PierComponent[] = [];
  try {
    const org = (await findOrganizationByName(store.db, config.orgName)) ?? (await insertOrganization(store.db, config.orgName));
    if (config.token) await insertToken(store.db, org.id, 'PIER_TOKEN', config.token);

    // Several control planes on PostgreSQL: a write on any one's API wakes the leader's reconcilers at once.
    const shared = store.db instanceof PgDb ? await store.db.shareWrites(() => { for (const l of listeners) l(); }) : undefined;
    api = createApiServer({
      store, domain: config.domain, gitAllowLocal: config.gitAllowLocal, tcpProxyPorts: config.tcpProxyPorts,
      onWrite: () => { for (const l of listeners) l(); shared?.notify(); },
      info: () => info,
      routeFeed,
      rateLimit: config.rateLimit,
      metricsText: () => metricRenderers.map((r) => r()).join(''),
      exec: () => execBackend,
      execSettings: config.exec,
      execAudit: log,
    });
    const apiUrl = await api.listen(config.apiAddr.port, config.apiAddr.host);

    // The CLI finds the API through this file; keep a still-valid token, otherwise issue a new one.
    const credentialsPath = join(config.dataDir, 'credentials.json');
    const saved = existsSync(credentialsPath) ? readCredentials(credentialsPath) : undefined;
    let token = saved?.token;
    const valid = token ? await findByToken(store.db, token) : undefined;
    if (!token || !valid || valid.organization_id !== org.id) {
      token = generateToken();
      await insertToken(store.db, org.id, 'admin (bootstrap)', token);
      log(`pier: issued a new admin API token, saved in ${credentialsPath}`);
    }
    writeCredentials(credentialsPath, { url: apiUrl, token, organization_id: org.id });
    log(`pier: API listening on ${apiUrl} (credentials: ${credentialsPath})`);

    const core: PierCore = {
      config, store, organizationId: org.id, log, routeFeed, apiUrl,
      onWrite: (l) => { listeners.add(l); },
      setInfo: (facts) => { Object.assign(info, facts); },
      addMetrics: (render) => { metricRenderers.push(render); },
      setExec: (backend) => { execBackend = backend; },
    };
    const components = await (opts.components ?? platformComponents)(core);
    for (const c of components) {
      await c.start();
      started.push(c);
    }
    let closing: Promise<void> | undefined;
    const handle: PierHandle = {
      config, store, api, apiUrl, organizationId: org.id, credentialsPath, components, routeFeed,
      close() {
        closing ??= (async () => {
          for (const c of [...started].reverse()) await c.stop();
          await api!.close();
          await store.close();
        })();
        return closing;
      },
    };
    return handle;
  } catch (err) {
    for (const c of [...started].reverse()) await Promise.resolve(c.stop()).catch(() => undefined);
    if (api) await api.close().catch(() => undefined);
    await store.close();
    throw err;
  }
}
