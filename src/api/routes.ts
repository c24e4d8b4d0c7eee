// The route table of everything Pier serves under /v1 (also the source of GET /v1/openapi.json).
import { appAndServiceRoutes } from './routes-apps.ts';
import { deploymentRoutes } from './routes-deployments.ts';
import { logRoutes } from './routes-logs.ts';
import { metricRoutes } from './routes-metrics.ts';
import { miscRoutes } from './routes-misc.ts';
import { eventRoutes } from './routes-events.ts';
import { composeRoutes } from './routes-compose.ts';
import { quotaRoutes } from './routes-quotas.ts';
import { secretRoutes } from './routes-secrets.ts';
import { pushRoutes } from './routes-push.ts';
import { archiveRoutes } from './routes-archives.ts';
import { tokenRoutes } from './routes-tokens.ts';
import { domainRoutes } from './routes-domains.ts';
import { edgeRoutes } from './routes-edge.ts';
import { accountRoutes } from './routes-account.ts';
import { autocompleteRoutes } from './routes-autocomplete.ts';
import { execRoutes } from './routes-exec.ts';
import { volumeRoutes } from './routes-volumes.ts';
import type { Route } from './router.ts';

/** Every served /v1 operation (the logs tail and exec websockets are served on upgrade: routes-logs-tail.ts, routes-exec.ts). */
export function apiRoutes(): Route[] {
  return [...appAndServiceRoutes(), ...deploymentRoutes(), ...logRoutes(), ...metricRoutes(), ...miscRoutes(), ...eventRoutes(), ...composeRoutes(), ...quotaRoutes(), ...secretRoutes(), ...pushRoutes(), ...archiveRoutes(), ...tokenRoutes(), ...domainRoutes(), ...edgeRoutes(), ...accountRoutes(), ...autocompleteRoutes(), ...volumeRoutes()];
}
