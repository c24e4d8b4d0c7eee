// POST /v1/services-autocomplete (Koyeb's Autocomplete): what a definition's `{{ ... }}` templates may name, for
// editors and the SDK: the organization's secrets, the definition's own env keys, and the system variables every
// instance gets. It reads only; a half-written definition is fine (nothing is validated, nothing is written).
import { PierError } from '../domain/errors.ts';
import { secretTypes } from '../store/secrets.ts';
import type { Route } from './router.ts';

/** The system variables an instance gets and templates may name (src/control/spec.ts sets them; keep both in step). */
export const SYSTEM_ENV_NAMES = [
  'KOYEB_APP_ID', 'KOYEB_APP_NAME', 'KOYEB_DEPLOYMENT_ID', 'KOYEB_INSTANCE_ID', 'KOYEB_INSTANCE_REGION',
  'KOYEB_INSTANCE_TYPE', 'KOYEB_PUBLIC_DOMAIN', 'KOYEB_REGION', 'KOYEB_SERVICE_ID', 'KOYEB_SERVICE_NAME',
] as const;

/** The env keys of a (possibly incomplete) definition, in order, each once. */
function envKeys(definition: unknown): string[] {
  const env = definition && typeof definition === 'object' ? (definition as { env?: unknown }).env : undefined;
  if (!Array.isArray(env)) return [];
  const keys = env.map((e) => (e && typeof e === 'object' ? (e as { key?: unknown }).key : undefined));
  return [...new Set(keys.filter((k): k is string => typeof k === 'string' && k !== ''))];
}

/** The autocomplete route. */
export function autocompleteRoutes(): Route[] {
  return [
    {
      method: 'POST', path: '/v1/services-autocomplete', operationId: 'Autocomplete', tag: 'Services', reads: true,
      handler: async (c) => {
        const body = await c.body();
        if (!body || typeof body !== 'object' || Array.isArray(body)) {
          throw new PierError('invalid_argument', 'The body must be a JSON object {definition}', [{ field: 'body', description: 'must be a JSON object' }]);
        }
        const types = await secretTypes(c.store.db, c.organizationId);
        // Only SIMPLE secrets can be interpolated into env values; registry secrets are for image pulls.
        const secrets = [...types].filter(([, type]) => type === 'SIMPLE').map(([name]) => name).sort();
        return { secrets, user_env: envKeys((body as { definition?: unknown }).definition), system_env: [...SYSTEM_ENV_NAMES] };
      },
    },
  ];
}
