// PURE: koyeb's `secrets create --type` names mapped to the API's secret body (SIMPLE, or REGISTRY with exactly one
// `*_registry` configuration), with the flags each registry needs, so a missing one fails before any request.

/** The flag values `secrets create` reads for a registry secret. */
export interface RegistryFlags {
  username?: string;
  password?: string;
  url?: string;
  keyfile?: string;
  registryName?: string;
}

interface RegistryKind {
  /** The API's field for this registry (`private_registry`, ...). */
  key: string;
  /** Flags this kind needs, as [field of RegistryFlags, config field, flag name for messages]. */
  needs: [keyof RegistryFlags, string, string][];
}

const USER_PASS: RegistryKind['needs'] = [['username', 'username', '--registry-username'], ['password', 'password', '--registry-password']];

/** koyeb's CLI names (and the spelling without a dash) → the API's registry configuration. */
export const REGISTRY_TYPES: Record<string, RegistryKind> = {
  'registry-dockerhub': { key: 'docker_hub_registry', needs: USER_PASS },
  'registry-private': { key: 'private_registry', needs: [...USER_PASS, ['url', 'url', '--registry-url']] },
  'registry-digital-ocean': { key: 'digital_ocean_registry', needs: USER_PASS },
  'registry-github': { key: 'github_registry', needs: USER_PASS },
  'registry-gitlab': { key: 'gitlab_registry', needs: USER_PASS },
  'registry-gcp': { key: 'gcp_container_registry', needs: [['keyfile', 'keyfile_content', '--registry-keyfile'], ['url', 'url', '--registry-url']] },
  'registry-azure': { key: 'azure_container_registry', needs: [['registryName', 'registry_name', '--registry-name'], ...USER_PASS] },
};

/** Every accepted --type value, for help and messages. */
export const SECRET_TYPE_NAMES = ['simple', ...Object.keys(REGISTRY_TYPES)];

/** The body of POST /v1/secrets for a registry type, or the list of missing flags (empty when complete). */
export function registrySecretBody(
  name: string, type: string, flags: RegistryFlags,
): { body: Record<string, unknown>; missing: string[] } | undefined {
  const kind = REGISTRY_TYPES[type === 'registry-docker-hub' ? 'registry-dockerhub' : type];
  if (!kind) return undefined;
  const config: Record<string, string> = {};
  const missing: string[] = [];
  for (const [flag, field, label] of kind.needs) {
    const v = flags[flag];
    if (v === undefined || v === '') missing.push(label);
    else config[field] = v;
  }
  return { body: { name, type: 'REGISTRY', [kind.key]: config }, missing };
}

/** The CLI type name of a registry secret as the API shows it (by its `*_registry` field), or undefined. */
export function registryTypeOf(secret: Record<string, unknown>): string | undefined {
  return Object.entries(REGISTRY_TYPES).find(([, kind]) => secret[kind.key] && typeof secret[kind.key] === 'object')?.[0];
}

/** The flags' fields a registry secret's shown configuration already holds (everything but its credentials). */
export function shownRegistryFlags(secret: Record<string, unknown>, type: string): RegistryFlags {
  const kind = REGISTRY_TYPES[type];
  const shown = (kind ? secret[kind.key] : undefined) as Record<string, string> | undefined;
  const out: RegistryFlags = {};
  for (const [flag, field] of kind?.needs ?? []) if (typeof shown?.[field] === 'string' && shown[field]) out[flag] = shown[field];
  return out;
}
