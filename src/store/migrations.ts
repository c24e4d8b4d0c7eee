// Numbered schema migrations, applied at start inside one transaction each and recorded in schema_migrations.
// Each resource row keeps the columns we filter or sort on, plus `data`: the whole wire object as JSON.
import type { Db } from './db.ts';

/** One schema step; `sql` gets the dialect's auto-increment primary key spelling. */
export interface Migration { id: number; name: string; sql: (autoId: string) => string }

/** Every migration, in order. Never edit a released one: add a new number. */
export const MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: 'core resources',
    sql: (autoId) => `
CREATE TABLE organizations (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id), name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, expires_at TEXT
);
CREATE TABLE apps (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id), name TEXT NOT NULL,
  status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX apps_org_created ON apps (organization_id, created_at);
CREATE UNIQUE INDEX apps_live_name ON apps (organization_id, name) WHERE status <> 'DELETED';
CREATE TABLE services (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, app_id TEXT NOT NULL REFERENCES apps(id), name TEXT NOT NULL,
  type TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX services_org_created ON services (organization_id, created_at);
CREATE INDEX services_app_created ON services (app_id, created_at);
CREATE INDEX services_status ON services (status);
CREATE UNIQUE INDEX services_live_name ON services (app_id, name) WHERE status <> 'DELETED';
CREATE TABLE deployments (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, app_id TEXT NOT NULL, service_id TEXT NOT NULL REFERENCES services(id),
  seq INTEGER NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  data TEXT NOT NULL, diff TEXT NOT NULL
);
CREATE INDEX deployments_org_created ON deployments (organization_id, created_at);
CREATE INDEX deployments_app_created ON deployments (app_id, created_at);
CREATE UNIQUE INDEX deployments_service_seq ON deployments (service_id, seq);
CREATE INDEX deployments_status ON deployments (status);
CREATE TABLE regional_deployments (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, app_id TEXT NOT NULL, service_id TEXT NOT NULL,
  deployment_id TEXT NOT NULL REFERENCES deployments(id), region TEXT NOT NULL, status TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX regional_deployments_deployment ON regional_deployments (deployment_id, region);
CREATE INDEX regional_deployments_org_created ON regional_deployments (organization_id, created_at);
CREATE INDEX regional_deployments_status ON regional_deployments (status);
CREATE TABLE instances (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, app_id TEXT NOT NULL, service_id TEXT NOT NULL,
  deployment_id TEXT NOT NULL, regional_deployment_id TEXT NOT NULL REFERENCES regional_deployments(id),
  allocation_id TEXT NOT NULL, replica_index INTEGER NOT NULL, region TEXT NOT NULL, status TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX instances_org_created ON instances (organization_id, created_at);
CREATE INDEX instances_service_created ON instances (service_id, created_at);
CREATE INDEX instances_regional ON instances (regional_deployment_id, created_at);
CREATE INDEX instances_deployment ON instances (deployment_id, created_at);
CREATE INDEX instances_status ON instances (status);
CREATE TABLE events (
  seq ${autoId}, id TEXT NOT NULL UNIQUE, organization_id TEXT NOT NULL, kind TEXT NOT NULL, resource_id TEXT NOT NULL,
  type TEXT NOT NULL, message TEXT NOT NULL, metadata TEXT NOT NULL, when_at TEXT NOT NULL
);
CREATE INDEX events_resource ON events (kind, resource_id, seq);
CREATE INDEX events_org ON events (organization_id, kind, seq);
CREATE TABLE log_lines (
  seq ${autoId}, organization_id TEXT NOT NULL, app_id TEXT NOT NULL, service_id TEXT NOT NULL,
  deployment_id TEXT NOT NULL, regional_deployment_id TEXT NOT NULL, instance_id TEXT NOT NULL, region TEXT NOT NULL,
  type TEXT NOT NULL, stream TEXT NOT NULL, msg TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX log_lines_service ON log_lines (service_id, type, created_at);
CREATE INDEX log_lines_app ON log_lines (app_id, type, created_at);
CREATE INDEX log_lines_deployment ON log_lines (deployment_id, type, created_at);
CREATE INDEX log_lines_regional ON log_lines (regional_deployment_id, type, created_at);
CREATE INDEX log_lines_instance ON log_lines (instance_id, type, created_at);
CREATE TABLE secrets (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id), name TEXT NOT NULL, type TEXT NOT NULL,
  encrypted_value TEXT NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE UNIQUE INDEX secrets_org_name ON secrets (organization_id, name);
CREATE TABLE manual_scalings (
  service_id TEXT PRIMARY KEY REFERENCES services(id), organization_id TEXT NOT NULL, scalings TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
`,
  },
  {
    id: 2,
    name: 'metric samples',
    // One row per sample: instance_id is '' for service-wide series (edge traffic, instance count); ts is epoch ms.
    sql: () => `
CREATE TABLE metric_samples (
  organization_id TEXT NOT NULL, service_id TEXT NOT NULL, instance_id TEXT NOT NULL, region TEXT NOT NULL,
  name TEXT NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL
);
CREATE INDEX metric_samples_service ON metric_samples (service_id, name, ts);
CREATE INDEX metric_samples_instance ON metric_samples (instance_id, name, ts);
CREATE INDEX metric_samples_ts ON metric_samples (ts);
`,
  },
  {
    id: 3,
    name: 'push webhooks and archives',
    // Webhook secrets are encrypted (HMAC verification needs the plaintext); archive upload tokens only hashed.
    sql: () => `
CREATE TABLE webhook_secrets (
  service_id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, encrypted_secret TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE archives (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, size BIGINT NOT NULL, upload_token_hash TEXT NOT NULL,
  uploaded_at TEXT, created_at TEXT NOT NULL
);
CREATE INDEX archives_org_created ON archives (organization_id, created_at);
`,
  },
  {
    id: 4,
    name: 'api token scopes',
    // Read-only tokens and a free-text description (Koyeb's Credential.description); revocation deletes the row.
    sql: () => `
ALTER TABLE api_tokens ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN description TEXT NOT NULL DEFAULT '';
`,
  },
  {
    id: 5,
    name: 'custom domains and certificates',
    // Custom domains leave the app row for their own table (names unique among live domains, across organizations);
    // the cert_* columns hold the retry schedule so a restart never hammers the ACME server. Certificates and the
    // ACME account keep their PEM material sealed with the master key, like secrets.
    sql: () => `
CREATE TABLE domains (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
  app_id TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL,
  cert_attempts INTEGER NOT NULL DEFAULT 0, cert_next_attempt_at TEXT, dns_checked_at TEXT
);
CREATE UNIQUE INDEX domains_live_name ON domains (name) WHERE status <> 'DELETED';
CREATE INDEX domains_org_created ON domains (organization_id, created_at);
CREATE INDEX domains_app ON domains (app_id);
CREATE TABLE certificates (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, names TEXT NOT NULL, issuer TEXT NOT NULL, not_before TEXT NOT NULL,
  not_after TEXT NOT NULL, encrypted_pem TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE acme_accounts (
  directory_url TEXT PRIMARY KEY, email TEXT NOT NULL, account_url TEXT NOT NULL, encrypted_key TEXT NOT NULL,
  created_at TEXT NOT NULL
);
`,
  },
  {
    id: 6,
    name: 'leader leases',
    // One row per lease (the control-plane leader is 'control-plane'): compare-and-set in one statement, expires_at
    // in epoch ms of the database's clock, term bumped on every change of holder (writes fenced by it).
    sql: () => `
CREATE TABLE leases (
  name TEXT PRIMARY KEY, holder TEXT NOT NULL, term BIGINT NOT NULL, expires_at BIGINT NOT NULL, acquired_at TEXT NOT NULL
);
`,
  },
  {
    id: 7,
    name: 'custom domain ownership',
    // A name is no longer unique among all live claims: unverified claims of several organizations may coexist, one
    // per organization, and only one claim per name may be verified (the index is what decides a race). `verified`
    // mirrors the wire object's verified_at, which already held the time DNS was found right; the token is what the
    // TXT record _pier-challenge.<name> must hold (rows from before get one on the next pass).
    sql: () => `
DROP INDEX domains_live_name;
ALTER TABLE domains ADD COLUMN verification_token TEXT NOT NULL DEFAULT '';
ALTER TABLE domains ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
UPDATE domains SET verified = 1 WHERE data LIKE '%"verified_at":"%';
CREATE UNIQUE INDEX domains_verified_name ON domains (name) WHERE verified = 1 AND status <> 'DELETED';
CREATE UNIQUE INDEX domains_org_live_name ON domains (organization_id, name) WHERE status <> 'DELETED';
`,
  },
  {
    id: 8,
    name: 'leader api url',
    // The leader's advertised API URL beside its lease: a follower answers a regional edge's long poll with it, so
    // edges follow the lease instead of staying on a control plane that no longer leads. '' = not advertised.
    sql: () => `
ALTER TABLE leases ADD COLUMN api_url TEXT NOT NULL DEFAULT '';
`,
  },
  {
    id: 9,
    name: 'persistent volumes and snapshots',
    // Issue #20. Rows hold the wire object in `data` plus indexed columns; names are unique among an organization's
    // live volumes (and snapshots). `host_bytes` is the size the volume driver made (0 = not made yet), what the
    // reconciler compares with max_size. Volume events are the events table's kind `persistent_volume`.
    sql: () => `
CREATE TABLE volumes (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, name TEXT NOT NULL, region TEXT NOT NULL, status TEXT NOT NULL,
  service_id TEXT NOT NULL DEFAULT '', snapshot_id TEXT NOT NULL DEFAULT '', host_bytes BIGINT NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE UNIQUE INDEX volumes_org_live_name ON volumes (organization_id, name) WHERE status <> 'PERSISTENT_VOLUME_STATUS_DELETED';
CREATE INDEX volumes_status ON volumes (status);
CREATE TABLE snapshots (
  id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, name TEXT NOT NULL, parent_volume_id TEXT NOT NULL,
  region TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE UNIQUE INDEX snapshots_org_live_name ON snapshots (organization_id, name) WHERE status <> 'SNAPSHOT_STATUS_DELETED';
CREATE INDEX snapshots_status ON snapshots (status);
`,
  },
  {
    id: 10,
    name: 'activities and event retention',
    // Activities: who (the API token, or the operator) did what to which object, one row per API write, written in
    // the write's own transaction (`data` is the wire Activity). Events and activities older than
    // PIER_EVENTS_KEEP_DAYS are deleted by the GC, hence the time indexes. (Id 9 belongs to volumes; ids need not
    // be contiguous: migrate() applies every id it has not recorded, in this list's order.)
    sql: (autoId) => `
CREATE TABLE activities (
  seq ${autoId}, id TEXT NOT NULL UNIQUE, organization_id TEXT NOT NULL, actor_id TEXT NOT NULL,
  object_type TEXT NOT NULL, object_id TEXT NOT NULL, verb TEXT NOT NULL, created_at TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX activities_org ON activities (organization_id, seq);
CREATE INDEX activities_object ON activities (organization_id, object_id, created_at);
CREATE INDEX activities_created ON activities (created_at);
CREATE INDEX events_org_resource_when ON events (organization_id, resource_id, when_at);
CREATE INDEX events_when ON events (when_at);
`,
  },
  {
    id: 11,
    name: 'quotas and usage',
    // Operator-set limits per organization (`data`: Koyeb's Quotas, unset fields = no limit) and usage: one row per
    // instance that ever ran, its lifetime (started_at .. terminated_at, open while it runs) as the usage sampler saw
    // it from the instance rows, so usage never asks a runtime. duration_seconds is what a period list adds up.
    sql: () => `
CREATE TABLE organization_quotas (
  organization_id TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE instance_usage (
  instance_id TEXT PRIMARY KEY, organization_id TEXT NOT NULL, app_id TEXT NOT NULL, service_id TEXT NOT NULL,
  deployment_id TEXT NOT NULL, regional_deployment_id TEXT NOT NULL, region TEXT NOT NULL, instance_type TEXT NOT NULL,
  started_at TEXT NOT NULL, terminated_at TEXT, duration_seconds BIGINT NOT NULL DEFAULT 0, updated_at TEXT NOT NULL
);
CREATE INDEX instance_usage_org_started ON instance_usage (organization_id, started_at);
CREATE INDEX instance_usage_open ON instance_usage (terminated_at);
`,
  },
  {
    id: 12,
    name: 'tcp proxy ports',
    // The public port of each TCP proxy port (a service's `proxy_ports`): one service's port per public port (the
    // primary key keeps two control planes from giving one away twice), the same one for the service's every
    // deployment while its definition declares the port; released when a deployment drops it or the service goes.
    sql: () => `
CREATE TABLE proxy_ports (
  public_port INTEGER PRIMARY KEY, organization_id TEXT NOT NULL, service_id TEXT NOT NULL, port INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX proxy_ports_service_port ON proxy_ports (service_id, port);
`,
  },
];

/** The schema version this Pier knows: its highest migration id. */
export function knownSchemaVersion(): number {
  return Math.max(...MIGRATIONS.map((m) => m.id));
}

/** A database written by a newer Pier (a migration id this one does not know): refused before anything is applied. */
export class SchemaTooNewError extends Error {
  readonly code = 'schema_too_new';
  constructor(readonly found: number, readonly known: number) {
    super(`the database has schema version ${found}, newer than this Pier knows (${known}): it was written by a newer Pier; ` +
      'run that version (or newer), or restore a backup taken by this one. Nothing was changed.');
    this.name = 'SchemaTooNewError';
  }
}

/** Applies every migration not yet recorded; returns the ids applied now. Migrations are forward-only. */
export async function migrate(db: Db): Promise<number[]> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const done = new Set((await db.all<{ id: number }>('SELECT id FROM schema_migrations')).map((r) => Number(r.id)));
  // Checked before the first step: a newer Pier's database is never half-migrated by an older one.
  const known = new Set(MIGRATIONS.map((m) => m.id));
  const unknown = [...done].filter((id) => !known.has(id));
  if (unknown.length) throw new SchemaTooNewError(Math.max(...unknown), knownSchemaVersion());
  const autoId = db.dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY';
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    await db.transaction(async (tx) => {
      await tx.exec(m.sql(autoId));
      await tx.run('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)', [
        m.id, m.name, new Date().toISOString(),
      ]);
    });
    applied.push(m.id);
  }
  return applied;
}
